#!/usr/bin/python3
"""An independent reader of TensorBoard event files, for lossgraph's fixture.

Written from TensorFlow's own definitions, not from lossgraph's writer: the
TFRecord framing (length, masked CRC-32C of the length, data, masked CRC-32C
of the data) checked with the `crc32c` package, and the Event / Summary
messages decoded by Google's protobuf runtime from a .proto compiled by protoc
with TensorFlow's field numbers (event.proto, summary.proto, tensor.proto).

    apt-get install python3-protobuf python3-crc32c protobuf-compiler
    /usr/bin/python3 scripts/read_tfevents.py FILE > expected.json
"""
import importlib, json, os, struct, subprocess, sys, tempfile
import crc32c

PROTO = """
syntax = "proto3";
package tb;
message TensorShapeProto { message Dim { int64 size = 1; string name = 2; } repeated Dim dim = 2; }
message TensorProto { int32 dtype = 1; TensorShapeProto tensor_shape = 2; repeated bytes string_val = 8; }
message SummaryMetadata { message PluginData { string plugin_name = 1; bytes content = 2; } PluginData plugin_data = 1; }
message Summary {
  message Value { string node_name = 7; string tag = 1; SummaryMetadata metadata = 9;
    oneof value { float simple_value = 2; bytes obsolete_old_style_histogram = 3; TensorProto tensor = 8; } }
  repeated Value value = 1;
}
message Event { double wall_time = 1; int64 step = 2; oneof what { string file_version = 3; bytes graph_def = 4; Summary summary = 5; } }
"""

def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xa282ead8) & 0xffffffff

def main(path):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, 'tb.proto'), 'w') as f:
            f.write(PROTO)
        subprocess.run(['protoc', f'--proto_path={d}', f'--python_out={d}', 'tb.proto'], check=True)
        sys.path.insert(0, d)
        pb = importlib.import_module('tb_pb2')
    data = open(path, 'rb').read()
    at, events = 0, []
    while at < len(data):
        header = data[at:at + 8]
        (length,) = struct.unpack('<Q', header)
        (crc,) = struct.unpack('<I', data[at + 8:at + 12])
        assert crc == masked(crc32c.crc32c(header)), f'length CRC at byte {at}'
        body = data[at + 12:at + 12 + length]
        (crc,) = struct.unpack('<I', data[at + 12 + length:at + 16 + length])
        assert crc == masked(crc32c.crc32c(body)), f'data CRC at byte {at}'
        at += 16 + length
        e = pb.Event()
        e.ParseFromString(body)
        out = {'wall_time': e.wall_time, 'step': e.step}
        if e.HasField('file_version'):
            out['file_version'] = e.file_version
        if e.HasField('summary'):
            out['values'] = [
                {'tag': v.tag, 'simple_value': v.simple_value} if v.HasField('simple_value') else
                {'tag': v.tag, 'plugin': v.metadata.plugin_data.plugin_name, 'text': [s.decode() for s in v.tensor.string_val]}
                for v in e.summary.value]
        events.append(out)
    json.dump({'records': len(events), 'events': events}, sys.stdout, indent=1)
    print()

if __name__ == '__main__':
    main(sys.argv[1])
