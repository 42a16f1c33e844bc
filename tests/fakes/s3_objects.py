"""Puts or deletes objects in an S3 server (moto in tests), as a publisher would.

    s3_objects.py put ENDPOINT BUCKET PREFIX DIR [--multipart-over BYTES]
        uploads every file under DIR as PREFIX + its relative path, readable
        by anyone (public-read, as OpenNeuro's bucket is); files larger than
        BYTES go up as multipart uploads (5 MiB parts), so their ETag is not
        an MD5. Creates the bucket when missing.
    s3_objects.py delete ENDPOINT BUCKET KEY...
    s3_objects.py folder ENDPOINT BUCKET KEY   (an empty "folder/" object)
"""
import os
import sys

import boto3
from boto3.s3.transfer import TransferConfig


def client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="publisher",
        aws_secret_access_key="publisher-secret",
        region_name="us-east-1",
    )


def put(endpoint, bucket, prefix, root, multipart_over):
    s3 = client(endpoint)
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    config = TransferConfig(
        multipart_threshold=multipart_over, multipart_chunksize=5 << 20
    )
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            key = prefix + os.path.relpath(path, root).replace(os.sep, "/")
            s3.upload_file(
                path, bucket, key, ExtraArgs={"ACL": "public-read"}, Config=config
            )


def main(argv):
    command, endpoint, bucket = argv[1], argv[2], argv[3]
    if command == "put":
        over = 1 << 62
        if "--multipart-over" in argv:
            over = int(argv[argv.index("--multipart-over") + 1])
        put(endpoint, bucket, argv[4], argv[5], over)
    elif command == "delete":
        s3 = client(endpoint)
        for key in argv[4:]:
            s3.delete_object(Bucket=bucket, Key=key)
    elif command == "folder":
        client(endpoint).put_object(Bucket=bucket, Key=argv[4], Body=b"", ACL="public-read")
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
