"""Adapters of the frames service: ffmpeg decoding, Pillow encoding."""
