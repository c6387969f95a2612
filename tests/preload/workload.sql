-- The sqlite3 workload of preload_sqlite3.
create table t (id integer primary key, name text, grp integer, v real);
with recursive c(x) as (select 1 union all select x + 1 from c where x < 10000)
insert into t select x, 'name-' || x, x % 97, x * 1.5 from c;
create index t_name on t (name);
create index t_grp on t (grp, v);
select count(*), sum(v) from t;
select * from t where name = 'name-5000';
select grp, count(*), round(avg(v), 3) from t group by grp order by grp limit 5;
update t set v = v * 2 where grp = 3;
delete from t where id % 10 = 0;
select count(*), round(sum(v), 1) from t;
select name from t where grp = 3 order by v desc limit 3;
select group_concat(name, ',') from (select name from t order by name limit 20);
