"""Stage 2: inbound messages to tickets, events and queued mail (see stage.py for the flow)."""

from __future__ import annotations

from maild.stages.pipeline.stage import Outcome, Pipeline, PipelineSettings, record_outcome

__all__ = ["Outcome", "Pipeline", "PipelineSettings", "record_outcome"]
