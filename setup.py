"""Installs mnasnet-tf: the packages mnasnet_tf, search and tflite_bench, and their binaries."""

from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    "tensorflow==2.21.*",
    "keras>=3.10,<4",
    "keras-tuner==1.4.8",
    # keras-tuner 1.4.8 imports tensorboard, which TF 2.21 no longer installs.
    "tensorboard>=2.20",
    "tensorflow-datasets==4.9.10",
    # tensorflow-datasets 4.9.10 imports importlib_resources without declaring it.
    "importlib_resources",
    "absl-py>=2.1",
    # LiteRT, the maintained successor of tflite-runtime (which cannot run beside numpy 2).
    "ai-edge-litert==2.3.*",
    "numpy>=1.26",
    "scikit-learn>=1.3",
    "matplotlib>=3.8",
    "scipy>=1.11",
    # numpy BLAS pinned to one thread for the controller (came in with scikit-learn).
    "threadpoolctl>=3",
]

TEST_REQUIRES = [
    "pytest>=8",
    "pytest-xdist>=3.5",
    "pytest-cov>=5",
    "ruff==0.17.6",
    "nbclient>=0.10",
    "nbformat>=5.10",
    "ipykernel>=6.29",
]

setup(
    name="mnasnet-tf",
    version="0.1.0",
    description="Platform-aware neural architecture search (MnasNet) for Keras 3 / TensorFlow 2",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(
        include=[
            "mnasnet_tf",
            "mnasnet_tf.*",
            "search",
            "search.*",
            "tflite_bench",
            "tflite_bench.*",
        ]
    ),
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": TEST_REQUIRES},
    entry_points={
        "console_scripts": [
            "mnasnet-models=search.cli.mnasnet_models:run_main",
            "mnasnet-train=search.cli.mnasnet_train:run_main",
            "mnasnet-eval=search.cli.mnasnet_eval:run_main",
            "mnasnet-search=search.cli.mnasnet_search:run_main",
            "tflite-bench=search.cli.tflite_bench:run_main",
            "mnasnet-proxy-check=search.cli.mnasnet_proxy_check:run_main",
            "mnasnet-digits-m=search.cli.mnasnet_digits_m:run_main",
            "mnasnet-adapt=search.cli.mnasnet_adapt:run_main",
            "mnasnet-oneshot=search.cli.mnasnet_oneshot:run_main",
        ],
    },
)
