"""The python3 workload of make bench: `python_workload.py ROUNDS LINES`. Dict, list and
str heavy work of the kind a log or data-cleaning script does, on LINES log lines a round
generated from a fixed seed: tokenizing, counting, grouping records, sorting, formatting.
Run with PYTHONMALLOC=malloc, every object it makes and drops is a malloc and a free.
Prints a digest of its results, the same on every run, so a traced run that computes
something else is seen."""
import hashlib
import random
import sys

WORDS = ("error warning info debug request response timeout retry cache miss hit user "
         "session token login logout upload download queue worker shard replica leader "
         "follower commit abort rollback index scan merge split flush compact").split()


def log_lines(rng, count):
    for n in range(count):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        yield (f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
               f"host{rng.randint(1, 40):02d} pid={rng.randint(100, 9999)} "
               f"level={rng.choice(('INFO', 'WARN', 'ERROR'))} id={n} msg={words}")


def parse(line):
    date, host, *fields = line.split(" ")
    record = {"date": date, "host": host}
    message = []
    for field in fields:
        key, sep, value = field.partition("=")
        if sep and key != "msg":
            record[key] = value
        else:
            message.append(value if sep else field)
    record["msg"] = message
    return record


def one_round(rng, lines):
    counts = {}
    by_host = {}
    pairs = {}
    for record in map(parse, log_lines(rng, lines)):
        for word in record["msg"]:
            counts[word] = counts.get(word, 0) + 1
        by_host.setdefault(record["host"], []).append(record)
        for first, second in zip(record["msg"], record["msg"][1:]):
            pairs[(first, second)] = pairs.get((first, second), 0) + 1
    summary = []
    for host in sorted(by_host):
        records = sorted(by_host[host], key=lambda r: (r["date"], int(r["pid"]), r["id"]))
        errors = [r for r in records if r["level"] == "ERROR"]
        months = {}
        for r in records:
            months.setdefault(r["date"][:7], set()).update(r["msg"])
        summary.append(f"{host}:{len(records)}:{len(errors)}:"
                       + ",".join(f"{m}/{len(w)}" for m, w in sorted(months.items())))
    top = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:25]
    return "\n".join(summary + [f"{a} {b} {n}" for (a, b), n in top]
                     + [f"{w} {counts[w]}" for w in sorted(counts)])


def main():
    rounds, lines = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(5)
    digest = hashlib.sha256()
    for _ in range(rounds):
        digest.update(one_round(rng, lines).encode())
    print(f"{rounds} rounds of {lines} log lines: {digest.hexdigest()}")


if __name__ == "__main__":
    main()
