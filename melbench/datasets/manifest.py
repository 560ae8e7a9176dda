"""``manifest``: audio files listed in a CSV or JSON-lines file (with optional id/text/speaker).

CSV needs a header row; JSONL has one object per line. The path column is
``path`` (or ``file``, ``audio``, ``audio_path``, ``audio_filepath``, ``wav``;
or ``dataset.path_column``). Relative paths are resolved against ``dataset.root``
(default: the manifest's folder). Optional columns: ``id`` (default: the path
without extension), ``text``, ``speaker``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..errors import InputError, ParameterError
from .corpora import Corpus, CorpusParams, Item

PATH_COLUMNS = ("path", "file", "audio", "audio_path", "audio_filepath", "wav", "filename")


def read_manifest_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a ``.csv``/``.tsv`` (header required) or ``.jsonl``/``.json`` (one object a line).

    Raises
    ------
    InputError
        Missing file, unknown extension, malformed line.
    """
    if not path.is_file():
        raise InputError(f"dataset 'manifest': manifest file {path} not found")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        rows = []
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(
                        f"dataset 'manifest': {path} line {n} is not a JSON object ({exc.msg}); "
                        "expected JSON lines like {\"path\": \"a.wav\", \"text\": \"...\"}"
                    ) from None
                if not isinstance(obj, dict):
                    raise InputError(
                        f"dataset 'manifest': {path} line {n} is a {type(obj).__name__}, not an "
                        "object; expected JSON lines like {\"path\": \"a.wav\"}"
                    )
                rows.append({str(k): "" if v is None else str(v) for k, v in obj.items()})
        return rows
    if suffix in (".csv", ".tsv", ".txt"):
        with open(path, newline="", encoding="utf-8") as fh:
            sample = fh.read(4096)
            fh.seek(0)
            delim = "\t" if suffix == ".tsv" or ("\t" in sample and "," not in sample) else ","
            if suffix == ".txt" and "|" in sample and "," not in sample:
                delim = "|"
            reader = csv.DictReader(fh, delimiter=delim)
            return [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    raise InputError(
        f"dataset 'manifest': {path} has extension {suffix!r}; use .csv/.tsv (with a header row) "
        "or .jsonl (one JSON object per line)"
    )


class Manifest(Corpus):
    """Audio files listed in a CSV (header row) or JSONL manifest, with optional id/text/speaker."""

    name: ClassVar[str] = "manifest"
    clip_kind: ClassVar[str] = "audio"
    layout: ClassVar[str] = (
        "a .csv with a header row (path[,id,text,speaker]) or a .jsonl with one object per "
        "line ({\"path\": ..., \"id\": ..., \"text\": ..., \"speaker\": ...}); relative paths "
        "are resolved against dataset.root (default: the manifest's folder)"
    )

    @dataclass
    class Params(CorpusParams):
        """Parameters of the manifest dataset (plus the shared corpus options).

        Attributes
        ----------
        path : str
            The manifest file (.csv, .tsv or .jsonl).
        root : str
            Base folder of relative paths ("" = the manifest's folder).
        path_column : str
            Column holding the audio path ("" = the first of path, file, audio,
            audio_path, audio_filepath, wav, filename).
        """

        root: str = ""
        path: str = "???"
        path_column: str = ""

    def validate(self) -> None:
        """Require the manifest path (``root`` is optional here)."""
        if self.params.path in ("", "???"):
            raise ParameterError(
                "dataset 'manifest' needs a manifest file: dataset.path=/path/to/list.csv "
                f"(expected: {self.layout})"
            )
        self.check_selection()

    def root(self) -> Path:
        """Base folder of relative paths."""
        if self.params.root:
            return super().root()
        return Path(self.params.path).expanduser().parent

    def index(self, root: Path) -> list[Item]:
        """One item per manifest row."""
        mpath = Path(self.params.path).expanduser()
        rows = read_manifest_rows(mpath)
        if not rows:
            raise InputError(f"dataset 'manifest': {mpath} lists no files; expected {self.layout}")
        cols = set(rows[0])
        col = self.params.path_column or next((c for c in PATH_COLUMNS if c in cols), "")
        if not col or col not in cols:
            raise InputError(
                f"dataset 'manifest': {mpath} has no path column (columns: {sorted(cols)}); "
                f"name it one of {', '.join(PATH_COLUMNS)} or set dataset.path_column"
            )
        items, seen = [], set()
        for n, r in enumerate(rows, 1):
            rel = r.get(col, "")
            if not rel:
                raise InputError(f"dataset 'manifest': {mpath} row {n} has an empty {col!r}")
            p = Path(rel).expanduser()
            p = p if p.is_absolute() else root / p
            uid = r.get("id") or str(Path(rel).with_suffix(""))
            if uid in seen:
                raise InputError(f"dataset 'manifest': {mpath} row {n}: duplicate id {uid!r}")
            seen.add(uid)
            items.append(Item(uid, p, r.get("speaker", ""), r.get("text", "")))
        return items
