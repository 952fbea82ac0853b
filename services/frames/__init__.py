"""Frames service: probes media and extracts sampled frames with ffmpeg, in memory, streamed."""
