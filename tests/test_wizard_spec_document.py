"""Saving an edited spec keeps the document it came from: comments, key order, untouched spellings."""

from __future__ import annotations

from tui_jail.core.spec import Mount, parse_spec
from tui_jail.core.spec_document import spec_yaml
from tui_jail.core.yamlio import load_yaml_text
from tui_jail.paths.records import replace
from tui_jail.presets import preset_document, preset_names


def test_an_unchanged_spec_keeps_every_comment_and_value() -> None:
    from tui_jail.presets import preset_text

    for name in preset_names():
        document = preset_document(name)
        spec = parse_spec(document, allow_placeholders=True)
        text = spec_yaml(document, spec)
        comments = [line.strip() for line in preset_text(name).splitlines() if line.strip().startswith("#")]
        assert all(comment in text for comment in comments), name
        assert parse_spec(load_yaml_text(text), allow_placeholders=True) == spec
    # a preset without long flow lines comes back byte for byte
    assert spec_yaml(
        preset_document("seedbox-sftp"), parse_spec(preset_document("seedbox-sftp"), allow_placeholders=True)
    ) == preset_text("seedbox-sftp")


def test_edits_land_and_comments_stay() -> None:
    document = preset_document("seedbox-sftp")
    spec = parse_spec(document, allow_placeholders=True)
    assert spec.sftp is not None
    edited = replace(
        spec,
        sftp=replace(spec.sftp, users=("media",), addresses=("203.0.113.7", "198.51.100.0/24")),
        mounts=spec.mounts[:2],
    )
    text = spec_yaml(document, edited)
    assert "# The seedbox's public address (an IP, or a CIDR without host bits)." in text
    assert "addresses: [203.0.113.7, 198.51.100.0/24]" in text
    assert "users: [media]" in text
    assert "devices: [null, zero]" in text  # not rewritten as ['null', zero]
    assert "IncomingTV" not in text
    assert parse_spec(load_yaml_text(text)) == edited
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys == ["version", "name", "kind", "root", "mounts", "devices", "sftp"]


def test_a_new_mount_copies_the_style_and_omits_defaults() -> None:
    document = preset_document("awf-host-chroot")
    spec = parse_spec(document, allow_placeholders=True)
    edited = replace(spec, mounts=(*spec.mounts, Mount(source="/srv", target="srv", readonly=True)))
    text = spec_yaml(document, edited)
    assert "  - {source: /srv, target: srv, readonly: true}\n" in text
    assert parse_spec(load_yaml_text(text), allow_placeholders=True) == edited


def test_no_document_builds_a_sparse_one() -> None:
    spec = parse_spec(preset_document("joblet-production"))
    text = spec_yaml(None, spec)
    assert "persist" not in text  # defaults left out
    assert parse_spec(load_yaml_text(text)) == spec
