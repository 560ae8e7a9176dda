"""melbench-lws-ref: the reference ``lws`` package as melbench phase retriever ``lws_ref``."""

from .plugin import LWSRef

__all__ = ["LWSRef"]
