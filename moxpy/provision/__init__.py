"""Making configs and the files they point at: localserve's generated
config, quickstart's config for a real domain, DKIM keys, self-signed TLS
certificates, and the account, address, domain and password edits of the
command line.

localserve.py  the config localserve writes on first start
quickstart.py  a config for one real domain, its DNS records and client settings
edit.py        adding and removing accounts, addresses and domains; passwords
dkimkeys.py    new DKIM keys for a domain
certificate.py self-signed certificates

It writes config files through config/ (save) and never runs a server;
the command line (cli/) calls it and prints the results.
"""
