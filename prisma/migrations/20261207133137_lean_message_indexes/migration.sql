-- Two indexes no query uses, each maintained on every insert and on every ack (an ack UPDATE
-- changes status, which the queue index holds, so it is never a HOT update): the unique index on
-- seq (a sequence is unique by construction) and (recipient_id, timestamp) from the first design.
-- Measured on the messaging bench: PostgreSQL CPU per message 52 -> 41 µs (BENCHMARKS.md).

-- DropIndex
DROP INDEX "messages_seq_key";

-- DropIndex
DROP INDEX "idx_recipient_timestamp";
