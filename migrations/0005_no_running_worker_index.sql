-- A worker's running stages are found among the running stages (the partial index on
-- lease_until holds only those: as many rows as jobs in flight), so an index of its own, which
-- every lease and every result moved an entry in, is not worth its two pages per hop.
DROP INDEX stages_running_worker;
