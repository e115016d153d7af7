// placeholder: replaced by the tokenizer sources
