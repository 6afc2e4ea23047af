"""Platform-aware architecture search (MnasNet): the Python API.

    from search import SearchConfig, run_search
    result = run_search(SearchConfig(dataset="digits", max_trials=16))
    result.best["arch"], result.tuner.get_best_models(1)

`SearchConfig` (search/multitrial/config.py) holds every setting of `mnasnet-search`, checked on
construction; `run_search` (search/multitrial/run.py) runs or resumes the search and returns a
`SearchResult`. Importing this package imports no TensorFlow; `run_search` does, when called.
"""

from typing import Any

__all__ = ["SearchConfig", "SearchResult", "SearchSetupError", "run_search"]


def __getattr__(name: str) -> Any:
    """The API's names, imported on first use, so that `import search.spaces.base` stays light."""
    if name == "SearchConfig":
        from search.multitrial.config import SearchConfig

        return SearchConfig
    if name in ("SearchResult", "SearchSetupError", "run_search"):
        from search.multitrial import run

        return getattr(run, name)
    raise AttributeError(f"module 'search' has no attribute {name!r}")
