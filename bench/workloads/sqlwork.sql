-- sqlwork.sql -- the sqlite3 shell's workload for bench/preload.sh, on an
-- in-memory database, so that every page of it comes from malloc(3):
--
--   sqlite3 -bail -batch -init /dev/null :memory: ".read FILE"
--
-- where FILE first creates the table scale(rows) with one row (the number
-- of orders), then reads this script.  Customers and orders with text
-- memos of 10..400 bytes, three indexes, joins, group by, a window sort,
-- updates that grow rows, deletes; at the end the tables are dropped and
-- the database closed.
-- The output is the same on every allocator.
create table lorem as select
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod '
  || 'tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim '
  || 'veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea '
  || 'commodo consequat. Duis aute irure dolor in reprehenderit in voluptate '
  || 'velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint '
  || 'occaecat cupidatat non proident, sunt in culpa qui officia deserunt '
  || 'mollit anim id est laborum. Sed ut perspiciatis unde omnis iste natus '
  || 'error sit voluptatem accusantium doloremque laudantium, totam rem '
  || 'aperiam, eaque ipsa quae ab illo inventore veritatis et quasi.' as t;

create table customer (id integer primary key, name text, city text,
  note text);
create table orders (id integer primary key, customer integer, item text,
  qty integer, price real, memo text);

with recursive c(x) as (select 1 union all select x + 1 from c
  where x < (select max(rows / 10, 1) from scale))
insert into customer select x, 'customer-' || x, 'city-' || (x * 7919 % 101),
  substr((select t from lorem), 1 + x * 31 % 300, 20 + x * 17 % 200) from c;

with recursive c(x) as (select 1 union all select x + 1 from c
  where x < (select rows from scale))
insert into orders select x,
  1 + x * 2654435761 % (select max(rows / 10, 1) from scale),
  'item-' || (x * 40503 % 997), 1 + x % 9, (x * 48271 % 10000) / 100.0,
  substr((select t from lorem), 1 + x * 13 % 300, 10 + x * 7 % 391) from c;

create index orders_customer on orders (customer);
create index orders_item on orders (item, qty);
create index customer_city on customer (city);

select count(*), sum(qty), round(sum(price), 2), sum(length(memo))
  from orders;
select c.city, count(*), sum(o.qty), round(avg(o.price), 3)
  from orders o join customer c on c.id = o.customer
  group by c.city order by c.city limit 5;
select item, count(*), sum(qty) from orders
  group by item order by count(*) desc, item limit 5;
select sum(r % 1000) from (select row_number() over (order by memo, id) * id
  as r from orders);

update orders set memo = memo || ' ' || memo where id % 7 = 0;
delete from orders where qty = 3;
select count(*), sum(length(memo)) from orders;
select c.name, count(*) as n, sum(length(o.memo)) from customer c
  join orders o on o.customer = c.id where c.city = 'city-5'
  group by c.id order by n desc, c.name limit 3;
select count(distinct customer), count(distinct item) from orders
  where price > 50;

drop table orders;
drop table customer;
-- Close the database: what stays resident is the allocator's.
.open :memory:
