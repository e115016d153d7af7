// placeholder so the library has a source: removed once tokenizers land
