"""Generated protobuf modules for the mlspec schema. Do not edit: run tools/gen_proto.py."""
