"""Per-shard order under many concurrent writers."""

from __future__ import annotations

import threading

from kinesd_harness import expected_ranges, md5_hash_key, read_all, shard_for_hash, shard_id

WRITERS = 8
PER_WRITER = 40


def test_per_shard_order_under_concurrent_writers(server, make_stream):
    name = make_stream(2)
    ranges = expected_ranges(2)
    results: dict[int, list[tuple[str, str, bytes]]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(WRITERS)

    def writer(w: int) -> None:
        try:
            client = server.client()
            barrier.wait(timeout=10)
            mine = []
            for i in range(PER_WRITER):
                pk = f"w{w}-{i % 3}"  # a few keys per writer, spread over both shards
                data = f"{w}:{i}".encode()
                if i % 5 == 4:
                    resp = client.put_records(StreamName=name, Records=[
                        {"Data": data, "PartitionKey": pk}])
                    assert resp["FailedRecordCount"] == 0
                    r = resp["Records"][0]
                else:
                    r = client.put_record(StreamName=name, Data=data, PartitionKey=pk)
                assert r["ShardId"] == shard_id(shard_for_hash(ranges, md5_hash_key(pk)))
                mine.append((r["ShardId"], r["SequenceNumber"], data))
            results[w] = mine
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == WRITERS

    all_acks = [a for w in results.values() for a in w]
    assert len({seq for _, seq, _ in all_acks}) == WRITERS * PER_WRITER, "sequence numbers unique"

    # Each writer's sequential writes to a shard got increasing sequence numbers.
    for w, acks in results.items():
        for s in (shard_id(0), shard_id(1)):
            seqs = [int(seq) for sh, seq, _ in acks if sh == s]
            assert seqs == sorted(seqs), (w, s)

    # Reading each shard returns exactly its acknowledged records, ordered by sequence number,
    # and each writer's records appear in the order that writer wrote them.
    for s in (shard_id(0), shard_id(1)):
        acked = {seq: data for sh, seq, data in all_acks if sh == s}
        got = read_all(server.client(), name, s)
        assert [int(r["SequenceNumber"]) for r in got] == sorted(int(x) for x in acked)
        assert {r["SequenceNumber"]: r["Data"] for r in got} == acked
        for w in range(WRITERS):
            order = [int(r["Data"].split(b":")[1]) for r in got
                     if r["Data"].startswith(f"{w}:".encode())]
            assert order == sorted(order), (s, w)
