"""A port of what sops uses of go-yaml v3.0.4, so YAML reads and writes as sops does.

Why a port: sops turns a YAML comment into an entry of the mapping that holds
it, and encrypts it with that mapping's path as AAD. go-yaml v3 decides which
node, and so which mapping, a comment belongs to (head, line or foot comment,
moved about by its parser and decoder); neither PyYAML nor ruamel.yaml attaches
comments that way, so a comment they read would get another AAD and fail to
decrypt. Writing is the same story in reverse: the layout and quoting must be
sops' byte for byte.

The modules follow go-yaml's files, in the order data flows:

=============  ===========================  ==============================================
module         go-yaml                      role
=============  ===========================  ==============================================
``syntax``     yamlh.go, yamlprivateh.go    marks, errors, styles, event kinds, characters
``scanner``    scannerc.go                  text to tokens, comments queued beside them
``parser``     parserc.go                   tokens to events, comments moved onto them
``nodes``      yaml.go (Node), decode.go    events to node trees; alias-bomb limit
``resolve``    resolve.go                   a plain scalar's tag and value
``encoder``    encode.go                    tree values to scalars, nodes to events
``emitter``    emitterc.go                  events to text with sops' settings
``fast``       (none)                       libyaml reading and a direct writer for
                                            files and trees without comments
=============  ===========================  ==============================================

What differs from go-yaml, overall: only what sops reaches is ported (no Go
reflection: sops' own flattening of nodes into its tree lives in
:mod:`secure_up.sops.stores.yaml_store`); input is a checked ``str``, not bytes;
errors name positions, never document text; the emitter writes block style
only (``[]`` and ``{}`` for empty collections) and no line comments, since
sops writes every comment on its own line. Each module's docstring lists its
own differences.
"""
