"""Table definitions, each in its own module, with their store options.

Every table partition is its own RocksDB database: without limits, tables x partitions x RocksDB's
defaults (3 x 64 MB write buffers, up to 2 GiB block cache) multiply memory. ``SMALL_ROCKSDB`` caps one
partition database of a small table; the options rocksdict honours are listed in ../shared/FAUST_NOTES.md.
"""

SMALL_ROCKSDB = {
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 * 1024 * 1024,
    "max_open_files": 256,
}
