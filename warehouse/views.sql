-- Analyst views. ID numbers and phones are masked here; full values stay in the steward tables.
CREATE MACRO mask_id(x) AS CASE WHEN x IS NULL THEN NULL WHEN length(x) = 18
    THEN substr(x, 1, 6) || '********' || substr(x, 15, 4) ELSE '***' END;
CREATE MACRO mask_phone(x) AS CASE WHEN x IS NULL THEN NULL
    WHEN x LIKE '+861%' AND length(x) = 14 THEN substr(x, 4, 3) || '****' || right(x, 4)
    ELSE left(x, greatest(length(x) - 4, 0)) || '****' END;

CREATE VIEW v_person AS
SELECT person_id, name, sex, ethnicity, birth_date, mask_id(id_number) AS id_number,
       mask_phone(phone) AS phone, hukou_address, current_address, person_type, household_no, relation,
       house_id, grid_code, police_station, status, in_police, in_grid, run_id
FROM person;

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
