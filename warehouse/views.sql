-- Analyst views. ID numbers and phones are masked here; full values stay in the steward tables.
-- The masks are the rule of schemas.normalise.mask_id / mask_phone (gridbridge explain), written in SQL
-- (tests/test_warehouse.py runs both on the same values).
CREATE MACRO _mask(t, h, k) AS CASE WHEN t IS NULL OR length(t) = 0 THEN NULL
    ELSE left(t, h) || repeat('*', length(t) - h - k) || CASE WHEN k > 0 THEN right(t, k) ELSE '' END END;
-- 18 characters keep 6 + 4, 15 keep 6 + 3, others 2 + 2 (shorter than 6: all masked)
CREATE MACRO mask_id(x) AS _mask(trim(x),
    CASE WHEN length(trim(x)) >= 15 THEN 6 WHEN length(trim(x)) >= 6 THEN 2 ELSE 0 END,
    CASE WHEN length(trim(x)) = 18 THEN 4 WHEN length(trim(x)) = 15 THEN 3 WHEN length(trim(x)) >= 6 THEN 2 ELSE 0 END);
-- national form (a +86 landline gets its trunk 0), first 3 and last 4 digits kept (short: last 2)
CREATE MACRO _national(x) AS CASE
    WHEN trim(x) LIKE '+86%' AND regexp_replace(substr(trim(x), 4), '[^0-9*]', '', 'g') NOT LIKE '1%'
    THEN '0' || regexp_replace(substr(trim(x), 4), '[^0-9*]', '', 'g')
    ELSE regexp_replace(regexp_replace(trim(x), '^\+86', ''), '[^0-9*]', '', 'g') END;
CREATE MACRO mask_phone(x) AS _mask(_national(x),
    CASE WHEN length(_national(x)) >= 8 THEN 3 ELSE 0 END,
    CASE WHEN length(_national(x)) >= 8 THEN 4 WHEN length(_national(x)) > 2 THEN 2 ELSE 0 END);

CREATE VIEW v_person AS
SELECT person_id, name, sex, ethnicity, birth_date, mask_id(id_number) AS id_number,
       mask_phone(phone) AS phone, hukou_address, current_address, person_type, household_no, relation,
       house_id, grid_code, police_station, status, in_police, in_grid, run_id
FROM person;

-- Golden houses with the owner's ID number and phone masked.
CREATE VIEW v_house AS
SELECT * REPLACE (mask_id(owner_id_number) AS owner_id_number, mask_phone(owner_phone) AS owner_phone)
FROM house;

-- Conflicts with ID-number and phone values masked (field id_number / owner_id_number / phone / owner_phone).
CREATE MACRO _mask_field(field, v) AS CASE
    WHEN field IN ('id_number', 'owner_id_number') THEN mask_id(v)
    WHEN field IN ('phone', 'owner_phone') THEN mask_phone(v) ELSE v END;
CREATE VIEW v_person_conflict AS
SELECT * REPLACE (_mask_field(field, police_value) AS police_value, _mask_field(field, grid_value) AS grid_value,
                  _mask_field(field, police_raw) AS police_raw, _mask_field(field, grid_raw) AS grid_raw,
                  _mask_field(field, chosen_value) AS chosen_value)
FROM person_conflict;
CREATE VIEW v_house_conflict AS
SELECT * REPLACE (_mask_field(field, police_value) AS police_value, _mask_field(field, grid_value) AS grid_value,
                  _mask_field(field, police_raw) AS police_raw, _mask_field(field, grid_raw) AS grid_raw,
                  _mask_field(field, chosen_value) AS chosen_value)
FROM house_conflict;

CREATE VIEW v_only_in_police AS
SELECT p.person_id, p.name, p.sex, p.birth_date, mask_id(p.id_number) AS id_number, mask_phone(p.phone) AS phone,
       p.hukou_address, p.current_address, p.person_type, p.status, p.police_station, p.house_id,
       string_agg(x.source_key, ',' ORDER BY x.source_key) AS police_keys
FROM person p JOIN person_xref x ON x.person_id = p.person_id AND x.source = 'police'
WHERE p.in_police AND NOT p.in_grid
GROUP BY ALL;

CREATE VIEW v_only_in_grid AS
SELECT p.person_id, p.name, p.sex, p.birth_date, mask_id(p.id_number) AS id_number, mask_phone(p.phone) AS phone,
       p.current_address, p.person_type, p.status, p.grid_code, p.house_id,
       string_agg(x.source_key, ',' ORDER BY x.source_key) AS grid_keys
FROM person p JOIN person_xref x ON x.person_id = p.person_id AND x.source = 'grid'
WHERE p.in_grid AND NOT p.in_police
GROUP BY ALL;

CREATE VIEW v_conflicts_by_field AS
SELECT 'person' AS entity, field, status, count(*) AS conflicts FROM person_conflict GROUP BY ALL
UNION ALL
SELECT 'house', field, status, count(*) FROM house_conflict GROUP BY ALL
ORDER BY entity, conflicts DESC;

-- Living residents: deregistered records (注销, 死亡, 迁出) stay in `person` for stewards but are not counted.
CREATE VIEW v_resident AS
SELECT p.*, h.street, h.community, h.district
FROM v_person p LEFT JOIN house h USING (house_id)
WHERE coalesce(p.status, 'active') = 'active';

-- Population by grid cell: residents known to each system and merged, 户籍 (registered) / 流动 (floating).
CREATE VIEW v_population_by_grid AS
SELECT grid_code, count(*) AS residents,
       count(*) FILTER (WHERE person_type = 'registered') AS registered,
       count(*) FILTER (WHERE person_type = 'floating') AS floating,
       count(*) FILTER (WHERE in_police) AS known_to_police,
       count(*) FILTER (WHERE in_grid) AS known_to_grid,
       count(*) FILTER (WHERE in_police AND in_grid) AS in_both
FROM v_resident GROUP BY grid_code ORDER BY residents DESC, grid_code;

CREATE VIEW v_population_by_community AS
SELECT district, street, community, count(*) AS residents,
       count(*) FILTER (WHERE person_type = 'registered') AS registered,
       count(*) FILTER (WHERE person_type = 'floating') AS floating,
       count(*) FILTER (WHERE in_police) AS known_to_police,
       count(*) FILTER (WHERE in_grid) AS known_to_grid
FROM v_resident GROUP BY ALL ORDER BY residents DESC, district, street, community;

-- 登记率: floating residents the grid workers found, and how many of them the police have registered.
CREATE VIEW v_floating_registration AS
SELECT grid_code, count(*) AS floating_found_by_grid,
       count(*) FILTER (WHERE in_police) AS registered_by_police,
       round(count(*) FILTER (WHERE in_police) / count(*), 4) AS registration_rate
FROM v_resident WHERE in_grid AND person_type = 'floating'
GROUP BY ROLLUP (grid_code) ORDER BY grid_code NULLS FIRST;

-- Rented houses where no living resident known to the police lives (出租房屋 without a registered tenant).
CREATE VIEW v_rental_without_tenant AS
SELECT h.house_id, h.address, h.grid_code, h.community, h.owner_name, mask_id(h.owner_id_number) AS owner_id_number,
       mask_phone(h.owner_phone) AS owner_phone, h.is_rented_source,
       (SELECT count(*) FROM v_resident r WHERE r.house_id = h.house_id) AS residents_known
FROM house h
WHERE h.is_rented AND NOT EXISTS (SELECT 1 FROM v_resident r WHERE r.house_id = h.house_id AND r.in_police);

-- Freshness: days since each system last updated the person (NULL: the system does not have them), and since
-- the latest update by either system.
CREATE VIEW v_freshness AS
SELECT *, least(days_since_police_update, days_since_grid_update) AS days_since_update FROM (
    SELECT person_id, grid_code, police_station, in_police, in_grid,
           date_diff('day', try_cast(updated_at_police AS TIMESTAMP), current_timestamp::TIMESTAMP) AS days_since_police_update,
           date_diff('day', try_cast(updated_at_grid AS TIMESTAMP), current_timestamp::TIMESTAMP) AS days_since_grid_update
    FROM person WHERE coalesce(status, 'active') = 'active');
-- Residents neither system has updated for more than `days` days (or with no update time at all).
CREATE MACRO stale_persons(days) AS TABLE
    SELECT * FROM v_freshness WHERE days_since_update IS NULL OR days_since_update > days;

CREATE VIEW v_conflicts_by_grid AS
SELECT c.field, p.grid_code, c.status, count(*) AS conflicts
FROM person_conflict c LEFT JOIN person p USING (person_id)
GROUP BY ALL ORDER BY conflicts DESC, c.field, p.grid_code;
