// placeholder: replaced by the cluster sources
