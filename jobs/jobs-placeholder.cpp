// placeholder: replaced by the jobs sources
