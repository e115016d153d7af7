// placeholder: replaced by the results sources
