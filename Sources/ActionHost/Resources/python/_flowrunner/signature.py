"""Binding arguments by name without importing inspect (slow to import):
the function's code object says what it takes."""

CO_VARARGS = 0x04
CO_VARKEYWORDS = 0x08
CO_COROUTINE = 0x80


def _code(function):
    target = function
    while hasattr(target, "__wrapped__"):
        target = target.__wrapped__
    code = getattr(target, "__code__", None)
    if code is None and hasattr(target, "__call__") and hasattr(target.__call__, "__code__"):
        return target.__call__, target.__call__.__code__, True
    return target, code, False


def is_coroutine_function(function):
    _, code, _ = _code(function)
    return bool(code is not None and code.co_flags & CO_COROUTINE)


def parameters(function):
    """[(name, kind, has_default)] with kind in positional_only, normal,
    keyword_only, var_positional, var_keyword."""
    target, code, is_method = _code(function)
    if code is None:
        return None
    positional_count = code.co_argcount
    keyword_only_count = code.co_kwonlyargcount
    positional_only_count = getattr(code, "co_posonlyargcount", 0)
    names = code.co_varnames
    defaults = getattr(target, "__defaults__", None) or ()
    kw_defaults = getattr(target, "__kwdefaults__", None) or {}
    result = []
    first_default = positional_count - len(defaults)
    for index in range(positional_count):
        kind = "positional_only" if index < positional_only_count else "normal"
        result.append((names[index], kind, index >= first_default))
    offset = positional_count
    if code.co_flags & CO_VARARGS:
        var_positional = names[positional_count + keyword_only_count]
    else:
        var_positional = None
    for index in range(keyword_only_count):
        name = names[offset + index]
        result.append((name, "keyword_only", name in kw_defaults))
    if var_positional:
        result.append((var_positional, "var_positional", True))
    if code.co_flags & CO_VARKEYWORDS:
        index = positional_count + keyword_only_count + (1 if var_positional else 0)
        result.append((names[index], "var_keyword", True))
    if is_method and result:
        result = result[1:]  # self
    return result


def bind_call(function, args, kwargs):
    """The arguments of one call by parameter name (for task digests)."""
    spec = parameters(function)
    if spec is None:
        return {"args": list(args), "kwargs": dict(kwargs)}
    bound = {}
    positional = [p for p in spec if p[1] in ("positional_only", "normal")]
    for (name, _kind, _default), value in zip(positional, args):
        bound[name] = value
    extra = list(args[len(positional):])
    var_positional = next((p[0] for p in spec if p[1] == "var_positional"), None)
    if extra:
        bound[var_positional or "args"] = extra
    var_keyword = next((p[0] for p in spec if p[1] == "var_keyword"), None)
    others = {}
    names = {p[0] for p in spec}
    for key, value in kwargs.items():
        if key in names:
            bound[key] = value
        else:
            others[key] = value
    if others:
        bound[var_keyword or "kwargs"] = others
    return bound
