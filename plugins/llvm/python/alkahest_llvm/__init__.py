"""alkahest's native module with the LLVM backend (``pip install 'alkahest[jit]'``).

Nothing to import here: ``import alkahest`` finds this package and runs on its
native module, ``alkahest_llvm._alkahest``, in place of the base wheel's (see
``alkahest._native``). ``alkahest.features()["native"]`` then names this plugin.
"""
