-- Rows of random text until memory runs out (the database is in memory;
-- some 200 MB of rows when nothing stops it).
create table big (id integer primary key, blob text);
with recursive c(x) as (select 1 union all select x + 1 from c where x < 200000)
insert into big select x, hex(randomblob(512)) from c;
select count(*) from big;
