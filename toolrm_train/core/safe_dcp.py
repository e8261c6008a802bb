"""torch.distributed.checkpoint (DCP) read as data, never as code; its write errors kept, not lost.

Reading. DCP's ``FileSystemReader.read_metadata`` runs ``pickle.load`` on ``dcp/.metadata``, and its
``DefaultLoadPlanner.load_bytes`` runs ``torch.load(weights_only=False)`` on every non-tensor entry
(the optimiser's param groups): a checkpoint folder someone else can write (a shared file system,
a copied run) would run their code on ``--resume``. Here both go through restricted unpicklers:

- ``.metadata``: ``MetadataUnpickler`` resolves only the globals DCP's metadata is made of (its
  dataclasses, ``torch.Size``, torch dtypes, the layout helper, ``pathlib.PosixPath``); any other
  global (``os.system``, ``builtins.eval``, a ``__reduce__`` payload's callable) is refused
  before it is looked up, so nothing runs.
- byte entries: ``torch.load(weights_only=True)``, PyTorch's own safe unpickler (primitive
  containers, numbers, strings, tensors). Tensor entries already load that way in DCP.

The checkpoint's other files are JSON (``trainer_state.json``), YAML read with ``safe_load``
(``config.yaml``) and ``torch.load(weights_only=True)`` (``scheduler.pt``). Anyone who can write
the folder can still change the *weights* a resumed run starts from (as with any model file); what
they cannot do is run code in the training process.

Writing. DCP writes through ``torch.save``'s C++ zip writer, which turns a failed ``write()`` (disk
full, file-size limit, I/O error) into ``unexpected pos 704 vs 598``: the cause is lost.
``ErrorRecordingWriter`` hands DCP file objects that remember the first ``OSError`` of any
``write``/``flush``, so ``checkpoint.save_checkpoint`` can name it.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.distributed.checkpoint import FileSystemReader, FileSystemWriter
from torch.distributed.checkpoint._traverse import set_element
from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner
from torch.distributed.checkpoint.filesystem import FileSystem
from torch.distributed.checkpoint.metadata import Metadata

from toolrm_train.core.errors import CheckpointError


METADATA_FILE = ".metadata"  # DCP's global metadata file in a checkpoint's dcp/ folder


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint file asks to load something that is not plain checkpoint data."""


# (module, name) pairs DCP's metadata pickle is built from (torch 2.x's Metadata, TensorProperties,
# ChunkStorageMetadata, ... and FileSystemWriter's _StorageInfo). torch dtypes are checked apart.
_METADATA_GLOBALS = frozenset(
    {
        ("torch.distributed.checkpoint.metadata", "Metadata"),
        ("torch.distributed.checkpoint.metadata", "MetadataIndex"),
        ("torch.distributed.checkpoint.metadata", "StorageMeta"),
        ("torch.distributed.checkpoint.metadata", "TensorProperties"),
        ("torch.distributed.checkpoint.metadata", "TensorStorageMetadata"),
        ("torch.distributed.checkpoint.metadata", "ChunkStorageMetadata"),
        ("torch.distributed.checkpoint.metadata", "BytesStorageMetadata"),
        ("torch.distributed.checkpoint.metadata", "_MEM_FORMAT_ENCODING"),
        ("torch.distributed.checkpoint.filesystem", "_StorageInfo"),
        ("torch.serialization", "_get_layout"),
        ("torch", "Size"),
        ("pathlib", "PosixPath"),
        ("pathlib", "PurePosixPath"),
        ("collections", "OrderedDict"),
    }
)


class MetadataUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only DCP metadata's own globals (Python docs' "Restricting
    Globals"): a payload naming any other callable fails here, before it can be called."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _METADATA_GLOBALS:
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not part of a checkpoint's metadata")


def load_metadata(stream: io.BufferedIOBase, where: str) -> Metadata:
    """Unpickle DCP metadata from ``stream`` with ``MetadataUnpickler``; ``where`` names the file."""
    try:
        metadata = MetadataUnpickler(stream).load()
    except Exception as exc:  # any malformed or hostile pickle: one clear error naming the file
        raise UnsafeCheckpointError(
            f"{where}: refused to load the checkpoint's metadata ({exc}); a checkpoint holds data "
            "only, and this file asks for more (written by another program, or tampered with)"
        ) from exc
    if not isinstance(metadata, Metadata):
        raise UnsafeCheckpointError(f"{where}: not DCP checkpoint metadata (found {type(metadata).__name__})")
    return metadata


def check_dcp_metadata(dcp_dir: Path) -> Metadata:
    """Read ``dcp_dir/.metadata`` with ``MetadataUnpickler`` (an ``UnsafeCheckpointError`` if refused)."""
    path = dcp_dir / METADATA_FILE
    try:
        with path.open("rb") as stream:
            return load_metadata(stream, str(path))
    except OSError as exc:
        raise CheckpointError(
            f"{path}: cannot read the checkpoint's metadata ({exc.strerror or exc})"
        ) from exc


class SafeFileSystemReader(FileSystemReader):
    """DCP's file-system reader with the metadata read by ``MetadataUnpickler``."""

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        rank = kwargs.get("rank")
        path = self._get_metadata_path(rank)
        with self.fs.create_stream(path, "rb") as stream:
            metadata = load_metadata(stream, str(path))
        # What DCP's own read_metadata does after unpickling.
        if getattr(metadata, "storage_meta", None) is None:
            from torch.distributed.checkpoint.metadata import StorageMeta

            metadata.storage_meta = StorageMeta()
        metadata.storage_meta.load_id = self.load_id
        return metadata


class SafeLoadPlanner(DefaultLoadPlanner):
    """DCP's default load planner with non-tensor entries read by ``torch.load(weights_only=True)``."""

    def load_bytes(self, read_item: Any, value: io.BytesIO) -> None:
        try:
            obj = torch.load(value, weights_only=True)
        except pickle.UnpicklingError as exc:
            raise UnsafeCheckpointError(
                f"checkpoint entry '{read_item.dest_index.fqn}': refused to load it ({exc})"
            ) from exc
        if self.flatten_state_dict:
            set_element(self.original_state_dict, self.mappings[read_item.dest_index.fqn], obj)
        else:
            self.state_dict[read_item.dest_index.fqn] = obj


# --- writing -----------------------------------------------------------------------------------------


class _RecordingStream(io.RawIOBase):
    """A write stream that remembers the first ``OSError`` of its file before re-raising it."""

    def __init__(self, stream: Any, path: str, errors: list[tuple[str, OSError]]) -> None:
        super().__init__()
        self._stream, self._path, self._errors = stream, path, errors

    def _record(self, exc: OSError) -> None:
        if not self._errors:
            self._errors.append((self._path, exc))

    def write(self, data: Any) -> int:
        try:
            return self._stream.write(data)
        except OSError as exc:
            self._record(exc)
            raise

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            self._record(exc)
            raise

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._stream.seekable()

    def tell(self) -> int:
        return self._stream.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def fileno(self) -> int:
        return self._stream.fileno()


class _RecordingFileSystem(FileSystem):
    def __init__(self, errors: list[tuple[str, OSError]]) -> None:
        super().__init__()
        self.errors = errors

    @contextlib.contextmanager
    def create_stream(self, path: str | os.PathLike, mode: str) -> Iterator[Any]:
        try:
            with super().create_stream(path, mode) as stream:
                yield _RecordingStream(stream, str(path), self.errors) if "w" in mode else stream
        except OSError as exc:  # open() or the final flush/close
            if "w" in mode and not self.errors:
                self.errors.append((str(path), exc))
            raise


class ErrorRecordingWriter(FileSystemWriter):
    """DCP's file-system writer; ``errors`` holds the first ``(file, OSError)`` of a failed save."""

    def __init__(self, path: str | os.PathLike, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.errors: list[tuple[str, OSError]] = []
        self.fs = _RecordingFileSystem(self.errors)
