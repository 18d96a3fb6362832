import pytest
import yaml

from schemas.config import ConfigError, load, parse


def sample(demo_template):
    return yaml.safe_load(demo_template.read_text(encoding="utf-8"))


def test_sample_config_loads(demo_template):
    cfg = load(demo_template)
    assert cfg.sources["police"].entities["person"].columns["id_number"] == "公民身份号码"
    assert cfg.survivorship_rule("phone") == "most_recent"
    assert cfg.survivorship_rule("sex") == "police"  # default from the contract
    assert cfg.warehouse_path == demo_template.parent / "warehouse" / "gridbridge.duckdb"


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError) as e:
        load(tmp_path / "nope.yaml")
    assert "config file not found" in str(e.value) and "\n" not in str(e.value)


def test_unknown_key_names_its_place(demo_template):
    data = sample(demo_template)
    data["sources"]["police"]["entities"]["person"]["colums"] = {}
    with pytest.raises(ConfigError, match=r"sources\.police\.entities\.person\.colums: unknown key"):
        parse(data)


def test_unknown_connector(demo_template):
    data = sample(demo_template)
    data["sources"]["grid"]["connector"] = "oracle-magic"
    with pytest.raises(ConfigError, match=r"sources\.grid\.connector"):
        parse(data)


def test_unknown_canonical_field(demo_template):
    data = sample(demo_template)
    data["sources"]["grid"]["entities"]["person"]["columns"]["shoe_size"] = "鞋码"
    with pytest.raises(ConfigError, match="unknown canonical field 'shoe_size'"):
        parse(data)


def test_bad_survivorship_rule(demo_template):
    data = sample(demo_template)
    data["survivorship"]["phone"] = "loudest"
    with pytest.raises(ConfigError, match="unknown rule 'loudest'"):
        parse(data)


def test_env_secret_substitution(demo_template, monkeypatch):
    data = sample(demo_template)
    data["sources"]["police"]["url"] = "postgresql+psycopg://gb:${GB_TEST_PW}@localhost/db"
    with pytest.raises(ConfigError, match="GB_TEST_PW is not set"):
        parse(data)
    monkeypatch.setenv("GB_TEST_PW", "s3cret")
    assert "s3cret" in parse(data).sources["police"].url


def test_thresholds_ordered(demo_template):
    data = sample(demo_template)
    data["matching"] = {"auto_match": 0.5, "review": 0.9}
    with pytest.raises(ConfigError, match="review <= auto_match"):
        parse(data)


def test_match_settings_come_from_the_matching_section_and_the_trained_model(demo_template, tmp_path):
    from matching import MatchSettings
    data = sample(demo_template)
    data["matching"] = {"auto_match": 0.9, "review": 0.55}
    data["warehouse"] = {"path": str(tmp_path / "wh" / "gridbridge.duckdb")}
    cfg = parse(data)
    s = MatchSettings.from_config(cfg)
    assert (s.auto_match, s.review, s.model_path) == (0.9, 0.55, None)    # nothing trained: built-in model
    target = cfg.matching.model_target(cfg)
    assert target == tmp_path / "wh" / "models" / "matching_model.json"
    target.parent.mkdir(parents=True)
    target.write_text("{}", encoding="utf-8")
    assert MatchSettings.from_config(cfg).model_path == target           # `gridbridge train` wrote it
    data["matching"]["model"] = str(tmp_path / "elsewhere.json")
    cfg = parse(data)
    assert MatchSettings.from_config(cfg).model_path == cfg.matching.model_target(cfg) == tmp_path / "elsewhere.json"
