"""Uploads: checking a file by its bytes in a child process, then storing it in the media folder."""
