// placeholder: replaced by the experts sources
