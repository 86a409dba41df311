"""One index folder opened as a whole: manifest, database and vectors kept in step."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tanya.analysis import ANALYSIS_VERSION
from tanya.config import VectorSettings
from tanya.errors import IndexCorruptError, IndexMissingError, TanyaError
from tanya.store.database import DB_NAME, Database
from tanya.store.impact import IMPACT_NAME, ImpactIndex, build_impact_index
from tanya.store.impact import remove_leftovers as remove_impact_leftovers
from tanya.store.keyword import TITLE_WEIGHT
from tanya.store.manifest import Manifest, read_manifest, write_manifest
from tanya.store.pagecache import warm
from tanya.store.vectors import VectorIndex

log = logging.getLogger(__name__)

VECTORS_NAME = "vectors.faiss"


class Index:
    """An opened index: SQLite is the source of truth, FAISS a derived copy rebuilt when stale."""

    def __init__(
        self,
        directory: Path,
        manifest: Manifest,
        db: Database,
        vectors: VectorIndex | None = None,
        vector_settings: VectorSettings | None = None,
        readonly: bool = True,
    ) -> None:
        self.directory = directory
        self.manifest = manifest
        self.db = db
        self.vector_settings = vector_settings or VectorSettings()
        self.readonly = readonly
        self._vectors = vectors
        self._keyword: ImpactIndex | None | bool = False  # False: not opened yet; None: none usable
        self.generation = db.generation()
        self._db_inode = _inode(directory / DB_NAME)

    @property
    def vectors(self) -> VectorIndex:
        """The FAISS index, loaded on first use (an update with nothing to change never needs it)."""
        if self._vectors is None:
            self._vectors = _load_vectors(
                self.directory, self.manifest, self.db, self.vector_settings, self.readonly
            )
        if self._vectors.exact is None:
            self._vectors.exact = self.db.vectors_of
        return self._vectors

    @property
    def keyword_index(self) -> ImpactIndex | None:
        """The keyword accelerator when one exists for this database, opened on first use; else None."""
        if self._keyword is False:
            self._keyword = ImpactIndex.open(self.directory / IMPACT_NAME, self.db)
            if self._keyword is not None and self.readonly:
                # A reader of a large index: questions will follow (a writer only checks or rebuilds it). The
                # database too: at a million chunks, reading 8 chunks' rows from disk took 4.6 ms a question.
                if self._keyword.path.stat().st_size <= self.vector_settings.keyword_memory_mb * 2**20:
                    self._keyword.read_into_memory()
                else:
                    self._keyword.warm()
                warm(os.open(self.directory / DB_NAME, os.O_RDONLY), "database")
        return self._keyword  # type: ignore[return-value]

    @staticmethod
    def exists(directory: Path) -> bool:
        return (directory / DB_NAME).is_file() and read_manifest(directory) is not None

    @classmethod
    def open(
        cls,
        directory: Path,
        wanted: Manifest | None = None,
        readonly: bool = True,
        vector_settings: VectorSettings | None = None,
    ) -> Index:
        """Open an existing index; `wanted` (from today's settings) must match what built it."""
        manifest = read_manifest(directory)
        if manifest is None or not (directory / DB_NAME).is_file():
            raise IndexMissingError(f"{directory}: no index here; build one with: tanya index build")
        if wanted is not None:
            manifest.check_compatible(wanted, directory)
        try:
            db = Database(directory / DB_NAME, readonly=readonly)
            db.generation()
        except Exception as exc:
            raise IndexCorruptError(f"{directory / DB_NAME}: cannot open ({exc})") from None
        return cls(directory, manifest, db, None, vector_settings, readonly)

    @classmethod
    def create(
        cls, directory: Path, manifest: Manifest, vector_settings: VectorSettings | None = None
    ) -> Index:
        """A new, empty index (an existing one in `directory` is replaced)."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", VECTORS_NAME, IMPACT_NAME):
            (directory / name).unlink(missing_ok=True)
        db = Database(directory / DB_NAME)
        with db.conn:
            db.set_analysis_version(ANALYSIS_VERSION)
        write_manifest(directory, manifest)
        vectors = VectorIndex(manifest.dimension, None, vector_settings)
        return cls(directory, manifest, db, vectors, vector_settings, readonly=False)

    def close(self) -> None:
        if isinstance(self._keyword, ImpactIndex):
            self._keyword.close()
        self.db.close()

    def is_stale(self) -> bool:
        """True when another process has committed changes since this index was loaded."""
        try:
            moved = _inode(self.directory / DB_NAME) != self._db_inode
            return moved or self.db.generation() != self.generation
        except Exception:
            return False

    def reload(self) -> Index:
        """A fresh view of the same folder (after another process updated it)."""
        return Index.open(self.directory, None, readonly=True, vector_settings=self.vector_settings)

    # --- writing -------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """Database changes that all land or none do; the generation is bumped on commit."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.generation = self.db.generation() + 1
            self.db.set_generation(self.generation)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            self.generation = self.db.generation()
            raise

    def save(self) -> None:
        """Persist the vectors and the manifest for the current generation."""
        if not self.vectors.suits(len(self.vectors)):
            # Grown past (or shrunk below) what this kind of vector index suits: rebuild it from the database.
            self._vectors = _rebuild_vectors(self.directory, self.manifest, self.db, self.vector_settings)
        self.vectors.save(self.directory / VECTORS_NAME)
        self._refresh_keyword_index()
        self.manifest.generation = self.generation
        self.manifest.counts = self.db.counts()
        write_manifest(self.directory, self.manifest)

    def keyword_rows_outdated(self) -> bool:
        """Whether the keyword rows were stemmed by other rules than today's (an index from an older tanya)."""
        return self.db.analysis_version() != ANALYSIS_VERSION

    def restem_keyword_rows(self) -> int:
        """Re-stem every chunk's keyword row with today's rules, in one transaction; returns the chunks.

        The keyword accelerator was built from the old rows: it goes first, so no reader pairs it with the new
        ones (until the next save rebuilds it, keyword search runs on FTS5 alone)."""
        if isinstance(self._keyword, ImpactIndex):
            self._keyword.close()
        self._keyword = None
        (self.directory / IMPACT_NAME).unlink(missing_ok=True)
        with self.transaction() as db:
            return db.restem_keyword_rows()

    def mark_current(self) -> None:
        """Record the current generation in the manifest when only the database changed (vectors on disk current)."""
        self.manifest.generation = self.generation
        self.manifest.counts = self.db.counts()
        write_manifest(self.directory, self.manifest)

    def save_keyword_index(self) -> None:
        """Bring only the keyword accelerator in line with the database (the vectors on disk are current)."""
        self._refresh_keyword_index()

    def keyword_index_stale(self) -> bool:
        """Whether save() would write or delete the keyword index (for an update with nothing else to do)."""
        path = self.directory / IMPACT_NAME
        threshold = self.vector_settings.keyword_index_from
        if not threshold or self.db.keyword_rows() <= threshold:
            return path.exists()
        current = ImpactIndex.open(path, self.db)
        if current is None:
            return True
        try:
            return current.coverage(self.db).share > self.vector_settings.keyword_rebuild_share
        finally:
            current.close()

    def _refresh_keyword_index(self) -> None:
        """Keep the keyword accelerator when it still covers most chunks; rebuild or drop it otherwise.

        It covers the chunks up to an id; newer ones are searched by FTS5 and removed ones filtered, so an
        update adding a few articles costs nothing here. Rebuilt once the changes pass a share of the index.
        """
        path = self.directory / IMPACT_NAME
        remove_impact_leftovers(self.directory)
        settings = self.vector_settings
        chunks = self.db.keyword_rows()  # (FTS5 keeps the count: count(*) reads the whole table)
        if not settings.keyword_index_from or chunks <= settings.keyword_index_from:
            path.unlink(missing_ok=True)
            self._keyword = None
            return
        self.db.ensure_identity()
        current = ImpactIndex.open(path, self.db)
        if current is not None and current.coverage(self.db).share <= settings.keyword_rebuild_share:
            self._keyword = current
            return
        if current is not None:
            current.close()
        log.info("building the keyword index for %s chunks", chunks)
        self._keyword = build_impact_index(self.db, path, TITLE_WEIGHT)


@contextmanager
def write_lock(directory: Path) -> Iterator[None]:
    """Only one build or update at a time per index folder.

    The lock file lies beside the folder, not in it, because a build swaps the whole folder.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    handle = open(directory.parent / f".{directory.name}.lock", "a+")  # noqa: SIM115 - held across the yield
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TanyaError(
                f"{directory}: another build or update is running; wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def _load_vectors(
    directory: Path, manifest: Manifest, db: Database, settings: VectorSettings, readonly: bool
) -> VectorIndex:
    """The saved FAISS file when it matches the database, else rebuilt from the stored vectors."""
    path = directory / VECTORS_NAME
    if path.is_file() and manifest.generation == db.generation():
        try:
            return VectorIndex.load(path, settings, readonly=readonly)
        except Exception as exc:  # a damaged file is rebuilt from SQLite, which holds every vector
            log.warning("%s: unreadable (%s); rebuilding from the database", path, exc)
    log.info("vectors out of date for generation %s; rebuilding from the database", db.generation())
    return _rebuild_vectors(directory, manifest, db, settings)


def _rebuild_vectors(
    directory: Path, manifest: Manifest, db: Database, settings: VectorSettings
) -> VectorIndex:
    """A vector index of the kind that suits the database's chunk count, from the vectors stored there."""

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for ids, batch in db.iter_vectors():
            if batch.shape[1] != manifest.dimension:
                raise IndexCorruptError(f"{directory}: stored vectors have the wrong dimension; rebuild it")
            yield ids, batch

    return VectorIndex.build(manifest.dimension, db.counts()["chunks"], batches, settings)


def _inode(path: Path) -> int:
    """Identifies the database file, so a rebuilt index swapped into place is noticed."""
    try:
        return path.stat().st_ino
    except OSError:
        return -1
