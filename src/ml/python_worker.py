# Slipway's Python worker: loads one MLflow Model with mlflow.pyfunc and runs
# its predict for the Slipway process that started it (src/ml/python_model.cc).
#
# This file is compiled into the slipway binary; the parent starts
# `python -c <bootstrap>` with the protocol socket on fd 3 and sends this
# source as the first message. The protocol is private to fd 3: stdout is
# pointed at stderr (the parent logs stderr line by line), so a model that
# prints cannot corrupt the channel.
#
# Messages in both directions: a 4-byte little-endian length, then that many
# bytes; the first byte names the message.
#   parent -> worker  b"L" + JSON {"model_dir": ...}            load the model
#                     b"P" + u32 n + JSON header (n bytes) + column data
#   worker -> parent  b"R" + JSON {"python": ..., "mlflow": ...} loaded
#                     b"O" + u32 n + JSON header + column data    predictions
#                     b"E" + JSON {"type", "message", "code", "traceback"}
# A header is {"rows": n, "columns": [{"name", "type", "width", "missing"}],
# "params": {...} | null, "layout": "vector" | "matrix" | "records"}. Column
# data follows in column order: numeric types as rows*width float64 values,
# other types as (count + 1) u32 offsets, the UTF-8 bytes, then `count`
# missing flags when "missing" is true. No decorators here: the build embeds
# this file as it is.

import json
import os
import socket
import struct
import sys
import traceback

NUMERIC_TYPES = ("double", "float", "long", "integer", "boolean", "datetime")


def read_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            return None
        got += k
    return buf


def read_message(sock):
    head = read_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack("<I", head)
    return read_exact(sock, n)


def send_message(sock, parts):
    total = sum(len(p) for p in parts)
    sock.sendall(struct.pack("<I", total) + b"".join(parts))


def send_error(sock, exc):
    code = getattr(exc, "error_code", None)
    message = getattr(exc, "message", None)
    if not isinstance(message, str):
        message = str(exc)
    body = {
        "type": type(exc).__name__,
        "message": message,
        "code": code if isinstance(code, str) else None,
        "traceback": traceback.format_exc(),
    }
    send_message(sock, [b"E", json.dumps(body).encode()])


# ---- the input: Slipway's columns to what predict takes ----


def decode_columns(header, buf, offset):
    import numpy as np

    rows = header["rows"]
    out = []
    for spec in header["columns"]:
        count = rows * spec["width"]
        if spec["type"] in NUMERIC_TYPES:
            values = np.frombuffer(buf, dtype="<f8", count=count, offset=offset)
            offset += 8 * count
            out.append((spec, values, None))
            continue
        offsets = np.frombuffer(buf, dtype="<u4", count=count + 1, offset=offset).tolist()
        offset += 4 * (count + 1)
        data = bytes(buf[offset : offset + offsets[-1]])
        offset += offsets[-1]
        if spec["type"] == "binary":
            values = [data[offsets[i] : offsets[i + 1]] for i in range(count)]
        else:
            text = data.decode("utf-8")
            if len(text) == len(data):  # ASCII: byte offsets are character offsets
                values = [text[offsets[i] : offsets[i + 1]] for i in range(count)]
            else:
                values = [data[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
        if spec["type"] == "json":
            values = [json.loads(v) for v in values]
        if spec.get("missing"):
            flags = buf[offset : offset + count]
            offset += count
            values = [None if flags[i] else values[i] for i in range(count)]
        out.append((spec, values, None))
    return out


def typed_values(spec, values):
    """One column's values as the dtype MLflow's schema enforcement expects."""
    import numpy as np
    import pandas as pd

    kind = spec["type"]
    if kind not in NUMERIC_TYPES:
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr
    has_nan = bool(np.isnan(values).any())
    if kind == "double":
        return values
    if kind == "float":
        return values.astype(np.float32)
    if kind in ("long", "integer"):
        # A missing integer stays a float: MLflow then names the column when
        # it refuses it, as it does for a JSON request with a null there.
        if has_nan:
            return values
        return values.astype(np.int64 if kind == "long" else np.int32)
    if kind == "boolean":
        if has_nan:
            arr = np.empty(len(values), dtype=object)
            arr[:] = [None if v != v else bool(v) for v in values.tolist()]
            return arr
        return values != 0
    return pd.to_datetime(values, unit="s")  # datetime: seconds since the epoch


def tensor_values(spec, values, tensor_spec, rows):
    import numpy as np

    width = spec["width"]
    dtype = tensor_spec.type if tensor_spec is not None else None
    if spec["type"] in NUMERIC_TYPES:
        arr = np.asarray(values)
        if dtype is not None and dtype != object:
            arr = arr.astype(dtype)
    else:
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
    shape = list(tensor_spec.shape) if tensor_spec is not None else []
    inner = shape[1:]
    if inner and all(d > 0 for d in inner) and int(np.prod(inner)) == width:
        return arr.reshape([rows] + inner)
    if width == 1 and len(shape) <= 1:
        return arr.reshape(rows)
    return arr.reshape(rows, width)


def build_input(model, header, columns):
    import numpy as np
    import pandas as pd

    rows = header["rows"]
    schema = None
    try:
        schema = model.metadata.get_input_schema()
    except Exception:
        schema = None
    if schema is not None and schema.is_tensor_spec():
        specs = schema.inputs
        by_name = {s.name: s for s in specs if s.name}
        arrays = []
        for i, (spec, values, _) in enumerate(columns):
            tspec = by_name.get(spec["name"]) or (specs[i] if i < len(specs) else None)
            arrays.append((spec["name"], tensor_values(spec, values, tspec, rows)))
        if len(arrays) == 1:
            return arrays[0][1]
        return {name: arr for name, arr in arrays}
    if schema is None and len(columns) == 1 and columns[0][0]["width"] > 1:
        spec, values, _ = columns[0]
        return tensor_values(spec, values, None, rows)
    data = {}
    for i, (spec, values, _) in enumerate(columns):
        name = spec["name"] if spec["name"] != "" else i
        if spec["width"] > 1:
            arr = tensor_values(spec, values, None, rows)
            cells = np.empty(rows, dtype=object)
            cells[:] = list(arr)
            data[name] = cells
        else:
            data[name] = typed_values(spec, values)
    return pd.DataFrame(data, index=pd.RangeIndex(rows), copy=False)


# ---- the output: what predict returned, written back the way MLflow's
# scoring server writes it (scoring_server.predictions_to_json) ----


def numpy_encoder():
    from mlflow.utils.proto_json_utils import NumpyEncoder

    return NumpyEncoder


def json_texts(values):
    encoder = numpy_encoder()
    return [json.dumps(v, cls=encoder) for v in values]


def is_number(v):
    import numpy as np

    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def column_from_list(name, values, width=1):
    """A column from a flat list of Python values (rows * width of them)."""
    import numpy as np

    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return (name, "boolean", width, np.asarray(values, dtype="<f8"))
    if all(is_number(v) for v in values):
        kind = "long" if all(isinstance(v, (int, np.integer)) for v in values) else "double"
        return (name, kind, width, np.asarray(values, dtype="<f8"))
    if all(v is None or isinstance(v, str) for v in values):
        return (name, "string", width, values)
    return (name, "json", width, json_texts(values))


def column_from_array(name, arr):
    """A column from a 1-D (width 1) or 2-D numpy array."""
    import numpy as np

    rows = arr.shape[0]
    width = 1 if arr.ndim == 1 else arr.shape[1]
    kind = arr.dtype.kind
    if kind == "b":
        return (name, "boolean", width, arr.astype("<f8").reshape(-1))
    if kind in "iu":
        return (name, "long", width, arr.astype("<f8").reshape(-1))
    if kind == "f":
        type_name = "float" if arr.dtype.itemsize <= 4 else "double"
        return (name, type_name, width, arr.astype("<f8").reshape(-1))
    flat = arr.reshape(-1).tolist() if rows * width > 0 else []
    if kind == "U":
        return (name, "string", width, flat)
    return column_from_list(name, flat, width)


def column_from_series(name, series):
    import numpy as np

    kind = series.dtype.kind
    if kind in "biuf":
        try:
            values = series.to_numpy(dtype="<f8", na_value=np.nan)
            type_name = {"b": "boolean", "i": "long", "u": "long"}.get(kind)
            if type_name is None:
                type_name = "float" if series.dtype.itemsize <= 4 else "double"
            return (name, type_name, 1, values)
        except (TypeError, ValueError):
            pass
    # to_dict(orient="records") boxes values the same way tolist does.
    return column_from_list(name, series.tolist())


def encode_output(raw):
    """(layout, rows, [(name, type, width, values)]) for a prediction."""
    import numpy as np
    import pandas as pd

    if isinstance(raw, pd.DataFrame):
        cols = [column_from_series(str(c), raw.iloc[:, i]) for i, c in enumerate(raw.columns)]
        return "records", len(raw), cols
    if isinstance(raw, pd.Series):
        name = str(raw.name) if raw.name is not None else "0"
        return "records", len(raw), [column_from_series(name, raw)]
    if isinstance(raw, np.ndarray):
        if raw.ndim == 0:
            raw = raw.reshape(1)
        if raw.ndim == 1:
            return "vector", raw.shape[0], [column_from_array("", raw)]
        if raw.ndim == 2:
            return "matrix", raw.shape[0], [column_from_array("", raw)]
        return "vector", raw.shape[0], [("", "json", 1, json_texts(raw.tolist()))]
    if isinstance(raw, (list, tuple)):
        values = list(raw)
        if values and all(isinstance(v, (list, tuple)) for v in values):
            width = len(values[0])
            if width > 0 and all(len(v) == width for v in values):
                flat = [x for v in values for x in v]
                if all(is_number(x) for x in flat):
                    return "matrix", len(values), [column_from_list("", flat, width)]
        return "vector", len(values), [column_from_list("", values)]
    # A dict, a scalar or another object: the value itself, as MLflow's
    # predictions_to_json writes it ({"predictions": {...}}, not in a list).
    return "value", 1, [column_from_list("", [raw])]


def encode_columns(cols):
    import numpy as np

    specs, parts = [], []
    for name, type_name, width, values in cols:
        spec = {"name": name, "type": type_name, "width": width}
        if type_name in NUMERIC_TYPES:
            parts.append(np.ascontiguousarray(values, dtype="<f8").tobytes())
        else:
            missing = [v is None for v in values]
            encoded = [b"" if v is None else v.encode("utf-8") for v in values]
            offsets = np.zeros(len(encoded) + 1, dtype="<u4")
            np.cumsum([len(e) for e in encoded], out=offsets[1:])
            parts.append(offsets.tobytes())
            parts.append(b"".join(encoded))
            if any(missing):
                spec["missing"] = True
                parts.append(bytes(missing))
        specs.append(spec)
    return specs, parts


# ---- the loop ----


def load(sock, request):
    import mlflow
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(request["model_dir"])
    info = {
        "python": sys.version.split()[0],
        "mlflow": mlflow.__version__,
        "pid": os.getpid(),
    }
    send_message(sock, [b"R", json.dumps(info).encode()])
    return model


def predict(sock, model, msg):
    (n,) = struct.unpack_from("<I", msg, 1)
    header = json.loads(bytes(msg[5 : 5 + n]))
    columns = decode_columns(header, msg, 5 + n)
    data = build_input(model, header, columns)
    params = header.get("params")
    raw = model.predict(data, params=params) if params else model.predict(data)
    layout, rows, cols = encode_output(raw)
    specs, parts = encode_columns(cols)
    out = json.dumps({"layout": layout, "rows": rows, "columns": specs}).encode()
    send_message(sock, [b"O", struct.pack("<I", len(out)), out] + parts)


def main(sock):
    # print() in model code goes to stderr, which the parent logs; fd 1 is
    # the same pipe already, for output written below Python.
    sys.stdout = sys.stderr
    model = None
    while True:
        msg = read_message(sock)
        if msg is None:
            return  # the parent closed the channel: it is shutting us down
        kind = msg[0:1]
        try:
            if kind == b"L":
                model = load(sock, json.loads(bytes(msg[1:])))
            elif kind == b"P":
                if model is None:
                    raise RuntimeError("predict before the model was loaded")
                predict(sock, model, msg)
            else:
                raise RuntimeError("unknown message %r" % kind)
        except (BrokenPipeError, ConnectionResetError):
            return
        except BaseException as exc:  # noqa: B902 - every failure is reported
            # A failed load is worth its traceback in the log; a failed
            # predict is usually the caller's input, and the parent logs the
            # traceback it receives at debug level only.
            if kind == b"L":
                traceback.print_exc(file=sys.stderr)
            send_error(sock, exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)) or kind == b"L":
                return


if __name__ == "__main__":
    main(globals().get("_slipway_sock") or socket.socket(fileno=3))
