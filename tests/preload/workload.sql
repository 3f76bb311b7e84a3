-- SPDX-License-Identifier: MIT
-- A scripted sqlite3 workload for tests/sh/preload_real_programs.sh.
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
INSERT INTO t SELECT i, i % 97, printf('name-%08d-%s', i * 7919 % 100003, hex(i * 31)), (i * 37 % 1000) / 7.0 FROM n;
CREATE INDEX t_grp ON t(grp, name);
SELECT grp, count(*), round(sum(val), 3), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 20;
UPDATE t SET name = name || '-x' WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), sum(length(name)) FROM t;
SELECT a.grp, count(*) FROM t a JOIN t b ON a.id = b.id + 1 WHERE a.grp < 10 GROUP BY a.grp ORDER BY a.grp;
SELECT group_concat(name, ',') FROM (SELECT name FROM t ORDER BY name DESC LIMIT 30);
