"""The RVC engine: voice models, content features, pitch, index retrieval, conversion."""
