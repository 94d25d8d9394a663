// The jitbot custom role, defined from the same JSON files `az role definition create` takes, assignable in every
// subscription jitbot searches. Deployed at subscription scope by main.bicep.
//
// A custom role's display name is unique per tenant, and its id per tenant too: both carry the deploying resource
// group and the instance name, so a second deployment (another resource group, subscription or instance) gets a
// role of its own instead of failing or taking over the first one's.
targetScope = 'subscription'

@description('Create "jitbot admin" (enable/disable JIT, early revoke) instead of "jitbot requester".')
param admin bool = false

@description('Subscriptions where the role may be assigned.')
@minLength(1)
param assignableSubscriptionIds array

@description('Resource id of the resource group of the deployment that owns this role.')
param deploymentScope string

@description('Name prefix of that deployment (main.bicep\'s name).')
param instance string

var requesterRole = loadJsonContent('jitbot-role.json')
var adminRole = loadJsonContent('jitbot-admin-role.json')
var role = admin ? adminRole : requesterRole
var roleName = '${role.Name} (${instance} ${uniqueString(deploymentScope)})'

resource definition 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(deploymentScope, instance, role.Name)
  properties: {
    roleName: roleName
    description: role.Description
    type: 'CustomRole'
    permissions: [
      {
        actions: role.Actions
        notActions: role.NotActions
        dataActions: role.DataActions
        notDataActions: role.NotDataActions
      }
    ]
    assignableScopes: [for id in assignableSubscriptionIds: '/subscriptions/${id}']
  }
}

@description('The role definition name (a GUID), the same in every subscription it is assignable in.')
output roleDefinitionName string = definition.name

@description('The role\'s display name, unique to this deployment.')
output roleName string = roleName
