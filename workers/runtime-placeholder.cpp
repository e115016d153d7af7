// placeholder: replaced by the runtime sources
