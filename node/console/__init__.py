"""The management console of national (issue 15): :mod:`node.console.app` the pages,
:mod:`node.console.passwords` the secrets, :mod:`node.console.enrol` the operators'
one-time passwords given from the nation's folder."""
