"""alkahest's native module with the LLVM, MLIR and CUDA backends
(``pip install 'alkahest[full]'``).

Nothing to import here: ``import alkahest`` finds this package and runs on its
native module, ``alkahest_full._alkahest``, in place of the base wheel's (see
``alkahest._native``). ``alkahest.features()["native"]`` then names this plugin.
"""
