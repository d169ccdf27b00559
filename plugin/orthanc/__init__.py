"""Orthanc integration: shared configuration, the /changes follower, the push script."""

from plugin.orthanc.config import ROUTED_METADATA, orthanc_config, template

__all__ = ["ROUTED_METADATA", "orthanc_config", "template"]
