-- create_malloc_trace_table.sql: a PostgreSQL table for malloc-trace output files, its
-- columns named as in the file's header, the call stack as jsonb.
--
-- Load a trace with psql (the quote character is 0x01, which never occurs in a trace: the
-- callstack column holds JSON, whose double quotes must stay as they are):
-- \copy malloc_trace (function, thread_id, address, size, timestamp_ms, callstack) from 'PATH' with (format csv, delimiter ';', header true, quote e'\x01')
--
-- Example queries:
--
-- Top leaking stacks by bytes (the whole stack, frame 0 the allocating function):
--   select callstack, count(*) as blocks, sum(size) as bytes
--     from malloc_trace where function in ('leak', 'indirect')
--     group by callstack order by bytes desc limit 10;
--
-- Leaks per thread:
--   select thread_id, count(*) as blocks, sum(size) as bytes
--     from malloc_trace where function = 'leak' group by thread_id order by bytes desc;
--
-- Leaks per function (frame 1, the caller of malloc, new, strdup...), with file and line:
--   select callstack->1->>'f' as function, callstack->1->>'s' as file,
--          (callstack->1->>'l')::int as line, count(*) as blocks, sum(size) as bytes
--     from malloc_trace where function = 'leak'
--     group by 1, 2, 3 order by bytes desc;
--
-- Orphan frees (an address the tracer did not hold) by call site:
--   select callstack->1->>'f' as function, count(*)
--     from malloc_trace where function = 'free' and size = 0 group by 1 order by 2 desc;

create table if not exists malloc_trace (
    function text not null
        check (function in ('malloc', 'free', 'leak', 'indirect', 'reachable')),
    thread_id integer not null,
    address text not null check (address ~ '^0x[0-9a-f]+$'),
    size bigint not null check (size >= 0),
    timestamp_ms bigint not null,
    callstack jsonb not null
);

create index if not exists malloc_trace_function on malloc_trace (function);
