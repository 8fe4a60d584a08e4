"""`docker build` for labkit: a Dockerfile front end with BuildKit's rules, its cache, and its output.

Pure (core level):
- `dockerfile`: the grammar (directives, continuations, comments, heredocs), BuildKit's parse tree;
- `shellwords`: quotes, escapes and `${VAR...}` substitution;
- `instructions`: typed instructions, their flags and BuildKit's error texts;
- `dockerignore`: .dockerignore patterns (moby/patternmatcher);
- `plan`: stages and steps with everything substituted, the image config and history they build up;
- `events`, `display`: the build's progress events and BuildKit's plain and terminal output.

On disk:
- `context`: the build context seen through .dockerignore, and its checksums (a metadata cache);
- `cache`: the build cache in the home (records, pinned blobs, prune);
- `steps`: COPY/ADD, RUN, WORKDIR run in a copy-on-write work container;
- `builder`: the whole build, from the Dockerfile to a tagged image.
"""
