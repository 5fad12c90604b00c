"""The pipeline: reads the log in micro-batches and runs an ordered tuple of stages."""

from seamline.pipeline.batch import Batch, Stage
from seamline.pipeline.runner import PipelineRunner

__all__ = ["Batch", "PipelineRunner", "Stage"]
