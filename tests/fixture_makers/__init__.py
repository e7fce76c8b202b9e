"""One module per area; each defines ``make(fixtures_dir) -> list[Path]`` (see make_fixtures.py)."""
