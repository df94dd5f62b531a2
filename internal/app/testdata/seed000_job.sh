# Seed 000's job (verify-kfuse-image), its before_script and script as the
# seed writes them, run with `set -eo pipefail` as GitLab Runner's bash
# shell does. Left out: the lines installing aws-cli, jq and cosign (the
# test machine has them). TestSeed000Job replaces the ECR registry host
# 502496443919.dkr.ecr.us-west-2.amazonaws.com with oidcfed's, and sets the
# job's variables (IMAGE_NAME, IMAGE_TAG, KMS_KEY, AWS_ROLE_ARN,
# AWS_DEFAULT_REGION, GITLAB_OIDC_TOKEN) and the endpoint variables.

# Authenticate to AWS using OIDC token
echo "Assuming AWS role using OIDC..."
STS_RESPONSE=$(aws sts assume-role-with-web-identity \
  --role-arn "${AWS_ROLE_ARN}" \
  --role-session-name "gitlab-ci-${CI_PROJECT_NAME}-${CI_PIPELINE_ID}" \
  --web-identity-token "${GITLAB_OIDC_TOKEN}" \
  --duration-seconds 3600)

# Extract and export temporary credentials
export AWS_ACCESS_KEY_ID=$(echo "${STS_RESPONSE}" | jq -r '.Credentials.AccessKeyId')
export AWS_SECRET_ACCESS_KEY=$(echo "${STS_RESPONSE}" | jq -r '.Credentials.SecretAccessKey')
export AWS_SESSION_TOKEN=$(echo "${STS_RESPONSE}" | jq -r '.Credentials.SessionToken')

echo "✅ Successfully authenticated to AWS"

IMAGE_REF="502496443919.dkr.ecr.us-west-2.amazonaws.com/kfuse/${IMAGE_NAME}:${IMAGE_TAG}"

# Step 1: Login to Kloudfuse's ECR registry
echo "Logging in to Kloudfuse ECR..."
aws ecr get-login-password --region us-west-2 | \
  docker login --username AWS --password-stdin 502496443919.dkr.ecr.us-west-2.amazonaws.com

# Step 2: Pull the container image
echo "Pulling image ${IMAGE_REF}..."
docker pull "${IMAGE_REF}"

# Step 3: Verify the image signature (optional but recommended)
echo "Verifying signature for ${IMAGE_REF}..."
if cosign verify --key "${KMS_KEY}" "${IMAGE_REF}"; then
  echo "✅ Image signature verified successfully"
else
  echo "⚠️ Warning: Image signature verification FAILED"
  # Uncomment the next line to fail the pipeline on verification failure
  # exit 1
fi

echo "✅ Image pulled and verified successfully"
