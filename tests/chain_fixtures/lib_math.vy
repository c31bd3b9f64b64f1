# pragma version ~=0.4.3
# a module imported with `import lib_math`

@internal
@pure
def add_checked(a: uint256, b: uint256) -> uint256:
    return a + b
