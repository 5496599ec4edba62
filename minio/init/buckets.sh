#!/bin/sh
# The storage node's buckets, users and policies (run by the minio-init service with mc).
# Idempotent: it runs on every `docker compose up` and only creates or updates.
#   source bucket  where the tracker drops its files; the pipeline reads it
#   lake bucket    landing/ (JSONL extract lands) and lake/ (DuckLake's Parquet files)
#   pipeline user  reads the source, reads and writes the lake bucket
#   dashboard user reads lake/ only: the dashboard and the notebooks
set -eu

: "${MINIO_URL:?}" "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}"
: "${SOURCE_BUCKET:?}" "${LAKE_BUCKET:?}"
: "${PIPELINE_S3_ACCESS_KEY:?}" "${PIPELINE_S3_SECRET_KEY:?}"
: "${DASHBOARD_S3_ACCESS_KEY:?}" "${DASHBOARD_S3_SECRET_KEY:?}"

tries=0
until mc alias set storage "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then
        echo "minio-init: MinIO at $MINIO_URL did not answer in 60s" >&2
        exit 1
    fi
    sleep 2
done

mc mb --ignore-existing "storage/$SOURCE_BUCKET" "storage/$LAKE_BUCKET"

policies=$(mktemp -d)
cat > "$policies/pipeline.json" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow",
     "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
     "Resource": ["arn:aws:s3:::$SOURCE_BUCKET", "arn:aws:s3:::$LAKE_BUCKET"]},
    {"Effect": "Allow",
     "Action": ["s3:GetObject"],
     "Resource": ["arn:aws:s3:::$SOURCE_BUCKET/*"]},
    {"Effect": "Allow",
     "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
     "Resource": ["arn:aws:s3:::$LAKE_BUCKET/*"]}
  ]
}
JSON
cat > "$policies/dashboard.json" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow",
     "Action": ["s3:GetBucketLocation"],
     "Resource": ["arn:aws:s3:::$LAKE_BUCKET"]},
    {"Effect": "Allow",
     "Action": ["s3:ListBucket"],
     "Resource": ["arn:aws:s3:::$LAKE_BUCKET"],
     "Condition": {"StringLike": {"s3:prefix": ["lake/*"]}}},
    {"Effect": "Allow",
     "Action": ["s3:GetObject"],
     "Resource": ["arn:aws:s3:::$LAKE_BUCKET/lake/*"]}
  ]
}
JSON

# `policy create` replaces a policy of the same name, so an edited policy applies on restart
mc admin policy create storage clicklake-pipeline "$policies/pipeline.json"
mc admin policy create storage clicklake-dashboard "$policies/dashboard.json"
mc admin user add storage "$PIPELINE_S3_ACCESS_KEY" "$PIPELINE_S3_SECRET_KEY"
mc admin user add storage "$DASHBOARD_S3_ACCESS_KEY" "$DASHBOARD_S3_SECRET_KEY"
for pair in "clicklake-pipeline:$PIPELINE_S3_ACCESS_KEY" "clicklake-dashboard:$DASHBOARD_S3_ACCESS_KEY"; do
    policy=${pair%%:*}
    user=${pair#*:}
    if ! mc admin user info storage "$user" | grep -q "$policy"; then
        mc admin policy attach storage "$policy" --user "$user"
    fi
done
rm -rf "$policies"
echo "minio-init: buckets $SOURCE_BUCKET and $LAKE_BUCKET, users $PIPELINE_S3_ACCESS_KEY" \
     "(read source, read-write lake) and $DASHBOARD_S3_ACCESS_KEY (read lake/) are ready"
