"""Deterministic inputs for the real-workload series of make bench: a generated XML catalog,
a generated JSON array of orders, and a generated SQL script. Each generator is seeded, so
two bench runs (and every run of one series) read the same bytes; nothing is downloaded."""
import json
import random

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
         "zulu amber basalt cobalt dune ember fjord garnet harbor indigo jasper kelp lagoon "
         "marble nectar onyx pebble quartz raven saffron tundra umber velvet willow zephyr").split()
CITIES = ("Lyon", "Porto", "Graz", "Tartu", "Gent", "Brno", "Turku", "Cork", "Bergen", "Split",
          "Aarhus", "Malmo", "Pecs", "Kaunas", "Varna", "Bilbao")


def sentence(rng, low, high):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def write_until(path, size, header, footer, record):
    """Writes header, then record(n) for n = 0, 1, ... until the file holds at least size
    bytes, then footer; returns the number of records."""
    written = len(header)
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(header)
        chunk = []
        while written < size:
            text = record(count)
            chunk.append(text)
            written += len(text)
            count += 1
            if len(chunk) == 4096:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))
        out.write(footer)
    return count


def write_xml(path, size, seed=1):
    """A book catalog: nested elements, attributes, entities, mixed content and comments,
    the shapes a parser meets in real documents."""
    rng = random.Random(seed)

    def book(n):
        tags = "".join(f"<tag>{rng.choice(WORDS)}</tag>" for _ in range(rng.randint(1, 5)))
        note = f"<!-- revised {rng.randint(1990, 2024)} -->" if n % 7 == 0 else ""
        return (f'  <book id="bk{n:07d}" lang="{rng.choice(("en", "fr", "de", "et"))}" '
                f'available="{"true" if rng.random() < 0.8 else "false"}">{note}\n'
                f"    <title>{sentence(rng, 2, 6).title()}</title>\n"
                f"    <author><first>{rng.choice(WORDS).title()}</first>"
                f"<last>{rng.choice(WORDS).title()}</last></author>\n"
                f'    <price currency="EUR">{rng.randint(100, 9999) / 100:.2f}</price>\n'
                f"    <published city=\"{rng.choice(CITIES)}\">{rng.randint(1900, 2024)}"
                f"-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}</published>\n"
                f"    <tags>{tags}</tags>\n"
                f"    <description>{sentence(rng, 5, 20)} &amp; <em>{sentence(rng, 1, 3)}"
                f"</em> {sentence(rng, 3, 12)} &lt;{rng.choice(WORDS)}&gt;</description>\n"
                f"  </book>\n")

    return write_until(path, size, '<?xml version="1.0" encoding="UTF-8"?>\n<catalog>\n',
                       "</catalog>\n", book)


def write_json(path, size, seed=2):
    """An array of orders: objects with strings, numbers, booleans, nested objects and
    arrays, as an API export would hold."""
    rng = random.Random(seed)

    def order(n):
        lines = [{"sku": f"{rng.choice(WORDS)}-{rng.randint(1, 999)}",
                  "quantity": rng.randint(1, 9),
                  "unit_price": rng.randint(50, 50000) / 100}
                 for _ in range(rng.randint(1, 6))]
        record = {"id": n, "customer": {"name": f"{rng.choice(WORDS).title()} "
                                                f"{rng.choice(WORDS).title()}",
                                        "city": rng.choice(CITIES)},
                  "status": rng.choice(("open", "paid", "shipped", "returned")),
                  "express": rng.random() < 0.3, "lines": lines,
                  "note": sentence(rng, 0, 8)}
        return ("," if n else "") + "\n" + json.dumps(record)

    return write_until(path, size, "[", "\n]\n", order)


def write_sql(path, rows, seed=3):
    """Inserts into two tables in one transaction, an index, then queries that use it: a
    join, grouping, ordering, LIKE and a correlated subquery."""
    rng = random.Random(seed)
    customers = rows // 20

    def insert(n):
        return (f"INSERT INTO orders VALUES({n},{rng.randrange(customers)},"
                f"'{rng.choice(WORDS)}-{rng.randint(1, 999)}',{rng.randint(1, 9)},"
                f"{rng.randint(50, 50000) / 100},'{sentence(rng, 1, 6)}');\n")

    def customer(n):
        return (f"INSERT INTO customers VALUES({n},'{rng.choice(WORDS).title()}',"
                f"'{rng.choice(CITIES)}');\n")

    header = ("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, city TEXT);\n"
              "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, sku TEXT,\n"
              "                    quantity INTEGER, price REAL, note TEXT);\n"
              "BEGIN;\n" + "".join(customer(n) for n in range(customers)))
    footer = """COMMIT;
CREATE INDEX orders_by_customer ON orders(customer, price);
CREATE INDEX orders_by_sku ON orders(sku);
SELECT c.city, count(*), round(sum(o.quantity * o.price), 2)
  FROM orders o JOIN customers c ON c.id = o.customer GROUP BY c.city ORDER BY c.city;
SELECT sku, count(*) AS n FROM orders GROUP BY sku ORDER BY n DESC, sku LIMIT 20;
SELECT count(*), round(avg(price), 4) FROM orders WHERE note LIKE '%quartz%raven%';
SELECT c.id, c.name, (SELECT round(max(price), 2) FROM orders WHERE customer = c.id)
  FROM customers c WHERE c.id % 97 = 0 ORDER BY c.id;
SELECT substr(note, 1, 12) AS head, count(*) FROM orders
  GROUP BY head ORDER BY count(*) DESC, head LIMIT 20;
"""
    with open(path, "w", encoding="utf-8") as out:
        out.write(header)
        out.write("".join(insert(n) for n in range(rows)))
        out.write(footer)
