"""mg.utils.data: datasets, samplers, default_collate and the DataLoader, checked against PyTorch.

Parity (tests/fixture_makers/data.py): default_collate's outputs (structure, dtypes, shapes, values),
sequential loaders' batches and random_split's lengths, from the committed fixture and live when
torch is installed. Shuffles cannot be compared value for value (different random streams), so
their properties are tested instead: permutations, repeatable with a seed, new every epoch.
"""

from __future__ import annotations

import json
import warnings
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers import data as cases

import minigrad as mg
from minigrad.utils import data as data_module
from minigrad.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    random_split,
)
from minigrad.utils.data import dataloader as dataloader_module


def run_cases(lib) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random_split warns about its empty part, in both libraries
        return json.loads(json.dumps(cases.run(lib)))


# --------------------------------------------------------------------------------------------
# parity with PyTorch
# --------------------------------------------------------------------------------------------


def test_collate_loader_and_split_match_pytorch_fixture():
    expected = json.loads(str(load_fixture("data")["results"]))
    got = run_cases(mg)
    assert set(got) == set(expected)
    for key in expected:
        assert got[key] == expected[key], key


def test_collate_loader_and_split_match_live_pytorch(torch):
    expected, got = run_cases(torch), run_cases(mg)
    for key in expected:
        assert got[key] == expected[key], key


def test_import_paths_as_in_pytorch():
    import minigrad as torch_like
    from minigrad.utils.data import DataLoader as direct

    assert torch_like.utils.data.DataLoader is direct is data_module.DataLoader
    assert isinstance(torch_like.Generator(), mg.utils.generator.Generator)
    assert "utils" in dir(mg) and "Generator" in dir(mg)


# --------------------------------------------------------------------------------------------
# batching
# --------------------------------------------------------------------------------------------


def make_dataset(n=10):
    return TensorDataset(mg.arange(float(2 * n)).reshape(n, 2), mg.arange(n))


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False),
                                                      (2, 5, True), (0, 4, False)])
def test_batches_cover_the_dataset_in_order_and_len_honours_drop_last(n, batch_size, drop_last):
    loader = DataLoader(make_dataset(n), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    expected_len = n // batch_size if drop_last else -(-n // batch_size)
    assert len(loader) == len(batches) == expected_len == len(iter(loader))
    labels = [y.tolist() for _, y in batches]
    kept = expected_len * batch_size if drop_last else n
    assert sum(labels, []) == list(range(kept))
    for x, y in batches:
        assert x.shape == (len(y), 2) and x.dtype == np.float32 and y.dtype == np.int64
        assert np.array_equal(x.numpy(), np.stack([[2.0 * i, 2.0 * i + 1] for i in y.tolist()]))


def test_batch_size_none_gives_converted_samples_one_by_one():
    loader = DataLoader([np.ones(2), np.zeros(2)], batch_size=None)
    out = list(loader)
    assert len(loader) == 2 and all(isinstance(t, mg.Tensor) and t.shape == (2,) for t in out)


def test_next_iter_and_custom_collate_fn():
    loader = DataLoader(list(range(5)), batch_size=2, collate_fn=lambda samples: sum(samples))
    assert next(iter(loader)) == 1 and list(loader) == [1, 5, 4]


def test_getitems_is_used_for_a_whole_batch():
    class Batched(Dataset):
        def __init__(self):
            self.calls = []

        def __len__(self):
            return 5

        def __getitem__(self, i):
            raise AssertionError("the loader should call __getitems__")

        def __getitems__(self, indices):
            self.calls.append(indices)
            return [i * 10 for i in indices]

    ds = Batched()
    assert [b.tolist() for b in DataLoader(ds, batch_size=2)] == [[0, 10], [20, 30], [40]]
    assert ds.calls == [[0, 1], [2, 3], [4]]
    assert [b.tolist() for b in DataLoader(Subset(ds, [4, 0]), batch_size=2)] == [[40, 0]]


@pytest.mark.parametrize("shuffle, drop_last, batch_size", [(False, False, 4), (True, False, 3), (True, True, 4)])
def test_a_tensor_dataset_batch_is_taken_in_one_indexing_and_equals_the_collated_samples(shuffle, drop_last,
                                                                                            batch_size):
    """The default collate of a TensorDataset's samples, taken per tensor at once (``_rows_at_once``)."""
    rng = np.random.default_rng(0)
    tensors = (mg.tensor(rng.standard_normal((10, 2, 3)), dtype=mg.float32), mg.tensor(rng.integers(0, 5, 10)),
               mg.tensor(rng.random(10) > 0.5))
    fast = DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
    general = DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                         collate_fn=lambda samples: default_collate(samples))  # another collate: one by one
    assert fast._rows_at_once() and not general._rows_at_once()
    mg.manual_seed(3)
    ours = list(fast)
    mg.manual_seed(3)
    theirs = list(general)
    assert len(ours) == len(theirs) == len(fast)
    for a, b in zip(ours, theirs):
        assert type(a) is list and type(b) is list and len(a) == len(b) == 3
        for x, y in zip(a, b):
            assert x.shape == y.shape and x.dtype == y.dtype and not x.requires_grad
            np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_the_one_indexing_path_is_not_taken_where_the_samples_matter():
    x = mg.ones(4, 2, requires_grad=True)
    assert not DataLoader(TensorDataset(x), batch_size=2)._rows_at_once()  # a batch is then an op of the graph

    class Tagged(TensorDataset):
        def __getitem__(self, i):
            return (*super().__getitem__(i), "tag")

    assert not DataLoader(Tagged(mg.ones(4)), batch_size=2)._rows_at_once()
    assert [b[1] for b in DataLoader(Tagged(mg.ones(4)), batch_size=2)] == [("tag", "tag")] * 2


def test_an_empty_batch_from_a_batch_sampler_is_refused_as_collating_it_is():
    with pytest.raises(TypeError, match="default_collate: expected a non-empty list of samples"):
        list(DataLoader(TensorDataset(mg.ones(3)), batch_sampler=[[0], []]))


def test_an_index_out_of_range_from_a_batch_sampler_is_the_datasets_error():
    loader = DataLoader(TensorDataset(mg.ones(3)), batch_sampler=[[0, 1], [2, 3]])
    with pytest.raises(IndexError) as info:
        list(loader)
    try:
        TensorDataset(mg.ones(3))[3]
    except IndexError as e:
        assert str(info.value) == str(e)


def test_iterable_dataset_is_batched_in_stream_order():
    class Stream(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]  # no batching: numbers stay numbers
    with pytest.raises(TypeError):
        len(DataLoader(Stream(3)))  # no __len__ on the dataset: no len() on the loader, as in PyTorch

    class Sized(Stream):
        def __len__(self):
            return self.n

    assert len(DataLoader(Sized(7), batch_size=3)) == 3 and len(DataLoader(Sized(7), batch_size=3, drop_last=True)) == 2
    assert [b.tolist() for b in DataLoader(Stream(2) + Stream(3), batch_size=10)] == [[0, 1, 0, 1, 2]]
    assert list(ChainDataset([range(2), range(1)])) == [0, 1, 0]


def test_any_size_batch_size_and_options_partition_the_dataset():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=80, deadline=None)
    @given(st.integers(0, 30), st.integers(1, 12), st.booleans(), st.booleans(), st.integers(0, 2**32))
    def check(n, batch_size, drop_last, shuffle, seed):
        if n == 0 and shuffle:  # as in PyTorch: RandomSampler refuses an empty dataset
            with pytest.raises(ValueError, match="the dataset is empty"):
                DataLoader(make_dataset(n), shuffle=True)
            return
        loader = DataLoader(make_dataset(n), batch_size=batch_size, drop_last=drop_last, shuffle=shuffle,
                            generator=mg.Generator().manual_seed(seed))
        batches = [y.tolist() for _, y in loader]
        assert len(batches) == len(loader)
        assert all(len(b) == batch_size for b in batches[:-1]) and all(len(b) >= 1 for b in batches)
        if drop_last:
            assert all(len(b) == batch_size for b in batches)
        seen = sum(batches, [])
        assert len(set(seen)) == len(seen) == (n - n % batch_size if drop_last else n)
        if not shuffle:
            assert seen == list(range(len(seen)))

    check()


# --------------------------------------------------------------------------------------------
# shuffling
# --------------------------------------------------------------------------------------------


def epoch_order(loader) -> list[int]:
    return sum((y.tolist() for _, y in loader), [])


def test_shuffle_with_a_seeded_generator_is_repeatable_and_new_each_epoch():
    def orders(seed, epochs=3):
        loader = DataLoader(make_dataset(20), batch_size=4, shuffle=True, generator=mg.Generator().manual_seed(seed))
        return [epoch_order(loader) for _ in range(epochs)]

    first = orders(0)
    assert first == orders(0)
    assert all(sorted(o) == list(range(20)) for o in first)
    assert first[0] != first[1] != first[2] and first[0] != list(range(20))
    assert orders(1) != first


def test_shuffle_without_generator_follows_mg_manual_seed():
    loader = DataLoader(make_dataset(20), batch_size=5, shuffle=True)
    mg.manual_seed(123)
    a = epoch_order(loader)
    mg.manual_seed(123)
    assert epoch_order(loader) == a and sorted(a) == list(range(20))


def test_generator_state_default_seed_and_errors():
    g = mg.Generator()
    assert g.initial_seed() == 67280421310721  # PyTorch's default seed
    state = g.get_state()
    a = list(RandomSampler(range(10), generator=g))
    g.set_state(state)
    assert list(RandomSampler(range(10), generator=g)) == a
    assert mg.Generator().manual_seed(-1).initial_seed() == 2**64 - 1
    with pytest.raises(RuntimeError, match="runs on the CPU"):
        mg.Generator(device="cuda")
    with pytest.raises(TypeError, match="seed must be an int"):
        mg.Generator().manual_seed(1.5)
    with pytest.raises(ValueError, match="get_state"):
        g.set_state(mg.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="mg.Generator or None"):
        DataLoader(range(3), shuffle=True, generator=np.random.default_rng(0))


# --------------------------------------------------------------------------------------------
# samplers
# --------------------------------------------------------------------------------------------


def test_samplers():
    g = mg.Generator().manual_seed(0)
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3] and len(SequentialSampler(range(4))) == 4
    with_repeats = list(RandomSampler(range(3), replacement=True, num_samples=50, generator=g))
    assert len(with_repeats) == 50 and set(with_repeats) == {0, 1, 2}
    more = list(RandomSampler(range(3), num_samples=7, generator=g))  # whole permutations, then a part of one
    assert len(more) == 7 and sorted(more[:3]) == sorted(more[3:6]) == [0, 1, 2]
    subset = list(SubsetRandomSampler([10, 20, 30, 40], generator=g))
    assert sorted(subset) == [10, 20, 30, 40]
    weighted = list(WeightedRandomSampler([0.0, 0.0, 5.0, 1.0], 200, generator=g))
    assert set(weighted) == {2, 3} and weighted.count(2) > weighted.count(3)
    assert sorted(WeightedRandomSampler(mg.tensor([1.0, 1.0, 1.0]), 3, replacement=False, generator=g)) == [0, 1, 2]
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    assert len(BatchSampler(range(5), 2, drop_last=True)) == 2 and len(BatchSampler(range(5), 2, False)) == 3


def test_loader_with_sampler_and_batch_sampler():
    ds = make_dataset(6)
    assert epoch_order(DataLoader(ds, batch_size=2, sampler=[5, 3, 1])) == [5, 3, 1]
    loader = DataLoader(ds, batch_sampler=[[0, 5], [2]])
    assert [y.tolist() for _, y in loader] == [[0, 5], [2]] and len(loader) == 2
    loader = DataLoader(ds, sampler=SubsetRandomSampler([0, 2, 4], generator=mg.Generator().manual_seed(3)),
                        batch_size=2)
    assert sorted(epoch_order(loader)) == [0, 2, 4] and len(loader) == 2


@pytest.mark.parametrize("make, match", [
    (lambda: RandomSampler([]), "num_samples should be a positive integer"),
    (lambda: RandomSampler(range(3), replacement=1), "replacement should be a boolean"),
    (lambda: BatchSampler(range(3), 0, False), "batch_size should be a positive integer"),
    (lambda: BatchSampler(range(3), 2, drop_last=None), "drop_last should be a boolean"),
    (lambda: WeightedRandomSampler([-1.0, 2.0], 2), "non-negative"),
    (lambda: WeightedRandomSampler([1.0, 0.0], 2, replacement=False), "without replacement"),
])
def test_sampler_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# --------------------------------------------------------------------------------------------
# default_collate
# --------------------------------------------------------------------------------------------


def test_collate_recurses_into_structures_and_keeps_their_types():
    Pair = namedtuple("Pair", "a b")
    batch = [OrderedDict(p=Pair(mg.ones(2), (1, "x")), q=[np.float64(1.0)]),
             OrderedDict(p=Pair(mg.zeros(2), (2, "y")), q=[np.float64(2.0)])]
    out = default_collate(batch)
    assert type(out) is OrderedDict and list(out) == ["p", "q"]
    assert type(out["p"]) is Pair and out["p"].a.shape == (2, 2)
    assert out["p"].b[0].tolist() == [1, 2] and list(out["p"].b[1]) == ["x", "y"]
    assert out["q"][0].dtype == np.float64 and out["q"][0].tolist() == [1.0, 2.0]


def test_collate_stacks_tensors_that_require_grad_differentiably():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    out = default_collate([w * 2, w * 3])
    out.sum().backward()
    assert out.shape == (2, 2) and w.grad.tolist() == [5.0, 5.0]


@pytest.mark.parametrize("batch, error, match", [
    ([object()], TypeError, "batch must contain tensors, numpy arrays, numbers, dicts or lists"),
    ([np.array(["a"])], TypeError, "found <U1"),
    ([[1, 2], [3]], RuntimeError, "each element in list of batch should be of equal size"),
    ([mg.ones(2), mg.ones(3)], RuntimeError, r"equal size, but got \[2\] at entry 0 and \[3\] at entry 1"),
    ([mg.ones(2), np.ones(2)], TypeError, "sample 1 is a ndarray"),
    ([], TypeError, "non-empty list of samples"),
])
def test_collate_errors(batch, error, match):
    with pytest.raises(error, match=match):
        default_collate(batch)


# --------------------------------------------------------------------------------------------
# datasets and random_split
# --------------------------------------------------------------------------------------------


def test_subset_concat_and_dataset_add():
    base = list("abcdef")
    sub = Subset(base, [5, 0, 2])
    assert len(sub) == 3 and [sub[i] for i in range(len(sub))] == ["f", "a", "c"] and sub[-1] == "c"
    rows = Subset(make_dataset(6), [4, 1])
    x, y = rows[[1, 0]]  # a list index goes to the dataset in one piece
    assert y.tolist() == [1, 4] and x.shape == (2, 2)

    class Letters(Dataset):
        def __init__(self, s):
            self.s = s

        def __len__(self):
            return len(self.s)

        def __getitem__(self, i):
            return self.s[i]

    both = Letters("ab") + Letters("cde")
    assert isinstance(both, ConcatDataset) and len(both) == 5
    assert [both[i] for i in range(5)] == list("abcde") and both[-1] == "e" and both[-5] == "a"
    with pytest.raises(ValueError, match="should not exceed dataset length"):
        both[-6]
    with pytest.raises(IndexError, match="out of range"):
        both[5]
    with pytest.raises(ValueError, match="empty iterable"):
        ConcatDataset([])


def test_stack_dataset_gives_tuples_or_dicts():
    x, y = mg.arange(6.0).reshape(3, 2), mg.tensor([0, 1, 0])
    batch = next(iter(DataLoader(StackDataset(x=TensorDataset(x), y=y), batch_size=3)))
    assert list(batch) == ["x", "y"] and batch["x"][0].shape == (3, 2) and batch["y"].tolist() == [0, 1, 0]
    assert StackDataset(x, y)[2][1].item() == 0 and len(StackDataset(x, y)) == 3
    with pytest.raises(ValueError, match=r"lengths are \[3, 2\]"):
        StackDataset(x, [1, 2])
    with pytest.raises(ValueError, match="not both"):
        StackDataset(x, y=y)
    with pytest.raises(ValueError, match="at least one dataset"):
        StackDataset()


@pytest.mark.parametrize("n, lengths, sizes", [(10, [3, 7], [3, 7]), (10, [0.7, 0.3], [7, 3]),
                                               (11, [0.3, 0.3, 0.4], [4, 3, 4]), (3, [3, 0], [3, 0])])
def test_random_split_sizes_are_disjoint_and_cover_the_dataset(n, lengths, sizes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = random_split(range(n), lengths, generator=mg.Generator().manual_seed(0))
    assert [len(p) for p in parts] == sizes
    items = sorted(x for p in parts for x in p)
    assert items == list(range(n))
    again = random_split(range(n), sizes, generator=mg.Generator().manual_seed(0))
    assert [list(p) for p in again] == [list(p) for p in parts]


def test_random_split_errors():
    with pytest.raises(ValueError, match=r"sum of input lengths \(9\) does not equal the length of the input dataset"):
        random_split(range(10), [4, 5])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(range(10), [-1, 11])
    with pytest.raises(ValueError, match="neither whole counts nor fractions"):
        random_split(range(10), [2.5, 7.5])
    with pytest.warns(UserWarning, match="split at index 2 is 0"):
        assert [len(p) for p in random_split(range(3), [0.5, 0.5, 0.0])] == [2, 1, 0]


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"first dimensions are \[3, 4\]"):
        TensorDataset(mg.ones(3, 2), mg.ones(4))
    with pytest.raises(TypeError, match="argument 1 is a ndarray"):
        TensorDataset(mg.ones(3), np.ones(3))


# --------------------------------------------------------------------------------------------
# DataLoader options and errors
# --------------------------------------------------------------------------------------------


def test_num_workers_runs_in_the_main_process_and_warns_once(monkeypatch):
    monkeypatch.setattr(dataloader_module, "_warned_about_workers", False)
    loader = DataLoader(make_dataset(4), batch_size=2, num_workers=2, pin_memory=True, persistent_workers=True,
                        prefetch_factor=2, worker_init_fn=lambda worker_id: None)
    with pytest.warns(UserWarning, match="num_workers=2 was asked for, but minigrad loads every batch in the main"):
        assert epoch_order(loader) == [0, 1, 2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert epoch_order(loader) == [0, 1, 2, 3]
        assert epoch_order(DataLoader(make_dataset(2), num_workers=4)) == [0, 1]
    assert mg.utils.data.get_worker_info() is None


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), "batch_size should be a positive integer value or None, but got batch_size=0"),
    (dict(batch_size=-2), "batch_size=-2"),
    (dict(batch_size="4"), "batch_size='4'"),
    (dict(batch_size=True), "batch_size=True"),
    (dict(batch_size=None, drop_last=True), "mutually exclusive with drop_last"),
    (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler option is mutually exclusive"),
    (dict(num_workers=-1), "num_workers option should be a non-negative int"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified in multiprocessing"),
    (dict(drop_last="yes"), "drop_last should be a boolean"),
])
def test_dataloader_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(make_dataset(4), **kwargs)


def test_dataloader_errors_for_streams_and_datasets_it_cannot_read():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(3))

    for kwargs in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified"):
            DataLoader(Stream(), **kwargs)
    with pytest.raises(TypeError, match="has no __getitem__"):
        DataLoader(x for x in range(3))
    with pytest.raises(TypeError, match="has no __len__"):
        DataLoader(_NoLen())
    loader = DataLoader(make_dataset(4), batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        loader.batch_size = 3
    loader.num_workers = 0  # the rest may change, as in PyTorch
    assert len(loader.dataset) == 4


class _NoLen:
    def __getitem__(self, i):
        return i
